//! guardduty-responder's own settings (the shared ones are in `rdsguard::policy`).

use rdsguard::guardduty::{GuardDutyResponses, ENV_GUARDDUTY_RESPONSES};
use rdsguard::policy::PolicyError;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponderConfig {
    /// `GUARDDUTY_RESPONSES`: the opt-in responses per finding type.
    pub responses: GuardDutyResponses,
}

impl ResponderConfig {
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::from_vars(std::env::vars())
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self, PolicyError> {
        let raw = vars.into_iter().find(|(name, _)| name == ENV_GUARDDUTY_RESPONSES).map(|(_, value)| value);
        Ok(Self { responses: GuardDutyResponses::parse(raw.as_deref())? })
    }
}
