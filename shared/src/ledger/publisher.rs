//! The alert publisher with the ledger attached: what [`crate::startup::Plumbing`] hands every
//! function when FINDINGS_TABLE is set.

use std::sync::Arc;

use async_trait::async_trait;

use super::gate::Ledger;
use crate::alert::Alert;
use crate::aws::{AlertPublisher, AwsError};

pub struct LedgeredAlerts {
    publisher: Arc<dyn AlertPublisher>,
    ledger: Ledger,
}

impl LedgeredAlerts {
    pub fn new(publisher: Arc<dyn AlertPublisher>, ledger: Ledger) -> Self {
        Self { publisher, ledger }
    }
}

#[async_trait]
impl AlertPublisher for LedgeredAlerts {
    async fn publish(&self, alert: &Alert) -> Result<String, AwsError> {
        self.publisher.publish(alert).await
    }

    async fn publish_all(&self, alerts: &[Alert]) -> Vec<Result<String, AwsError>> {
        self.publisher.publish_all(alerts).await
    }

    fn ledger(&self) -> Option<&Ledger> {
        Some(&self.ledger)
    }

    fn rechecks(&self) -> Option<&crate::recheck::Rechecks> {
        self.publisher.rechecks()
    }
}
