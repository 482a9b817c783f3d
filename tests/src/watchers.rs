//! What pipeline-guard and guardduty-responder act on, seeded on moto: CloudTrail trails (and the
//! S3 bucket a trail needs), GuardDuty detectors, RDS snapshots; and both functions wired exactly
//! as their `main` wires them.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use guardduty_responder::config::ResponderConfig;
use guardduty_responder::GuardDutyResponder;
use pipeline_guard::config::PipelineConfig;
use pipeline_guard::PipelineGuard;
use rdsguard::aws::{SessionPipelineConnector, SessionResponderConnector};
use rdsguard::policy::Policy;

use crate::estate::HOME_REGION;
use crate::Estate;

impl Estate {
    /// Creates an S3 bucket on moto. CloudTrail refuses a trail whose bucket does not exist, and
    /// this keeps the tests free of the large S3 SDK: moto routes a request by the service named
    /// in its Authorization header and does not check signatures.
    pub fn create_bucket(&self, bucket: &str) {
        let address = self.moto.endpoint().trim_start_matches("http://").to_owned();
        let mut stream = TcpStream::connect(&address).expect("connect to moto");
        let request = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: {address}\r\nx-amz-date: 20260101T000000Z\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{HOME_REGION}/s3/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).expect("send CreateBucket");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("read CreateBucket response");
        assert!(response.starts_with("HTTP/1.1 200"), "CreateBucket {bucket} failed: {response}");
    }

    pub async fn cloudtrail(&self, region: &str) -> aws_sdk_cloudtrail::Client {
        aws_sdk_cloudtrail::Client::new(&self.moto.sdk_config(region).await)
    }

    pub async fn guardduty(&self, region: &str) -> aws_sdk_guardduty::Client {
        aws_sdk_guardduty::Client::new(&self.moto.sdk_config(region).await)
    }

    /// A trail writing to a new bucket, logging, with tags; returns its ARN.
    pub async fn create_logging_trail(&self, region: &str, name: &str, tags: &[(&str, &str)]) -> String {
        let bucket = format!("{name}-logs");
        self.create_bucket(&bucket);
        let cloudtrail = self.cloudtrail(region).await;
        let mut request = cloudtrail.create_trail().name(name).s3_bucket_name(&bucket);
        for (key, value) in tags {
            request =
                request.tags_list(aws_sdk_cloudtrail::types::Tag::builder().key(*key).value(*value).build().unwrap());
        }
        let arn = request.send().await.expect("create trail").trail_arn.expect("trail ARN");
        cloudtrail.start_logging().name(name).send().await.expect("start logging");
        arn
    }

    pub async fn stop_logging(&self, region: &str, name: &str) {
        self.cloudtrail(region).await.stop_logging().name(name).send().await.expect("stop logging");
    }

    pub async fn is_logging(&self, region: &str, name: &str) -> bool {
        let status = self.cloudtrail(region).await.get_trail_status().name(name).send().await.expect("trail status");
        status.is_logging().expect("IsLogging")
    }

    /// An enabled GuardDuty detector; returns its id.
    pub async fn create_detector(&self, region: &str) -> String {
        let guardduty = self.guardduty(region).await;
        guardduty.create_detector().enable(true).send().await.expect("create detector").detector_id.expect("id")
    }

    pub async fn set_detector_enabled(&self, region: &str, detector_id: &str, enabled: bool) {
        let guardduty = self.guardduty(region).await;
        guardduty.update_detector().detector_id(detector_id).enable(enabled).send().await.expect("update detector");
    }

    pub async fn detector_status(&self, region: &str, detector_id: &str) -> String {
        let detector =
            self.guardduty(region).await.get_detector().detector_id(detector_id).send().await.expect("detector");
        detector.status().map(|s| s.as_str().to_owned()).expect("status")
    }

    /// Every manual DB snapshot in the region (moto also keeps automated `rds:` ones).
    pub async fn db_snapshots(&self, region: &str) -> Vec<aws_sdk_rds::types::DbSnapshot> {
        let output = self.rds(region).await.describe_db_snapshots().send().await.expect("describe snapshots");
        output.db_snapshots.unwrap_or_default().into_iter().filter(|s| s.snapshot_type() == Some("manual")).collect()
    }

    /// The tags of a resource, by ARN.
    pub async fn rds_tags(&self, region: &str, arn: &str) -> Vec<(String, String)> {
        let output =
            self.rds(region).await.list_tags_for_resource().resource_name(arn).send().await.expect("list tags");
        output
            .tag_list()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect()
    }

    /// pipeline-guard wired as its `main` wires it, against moto, with extra settings.
    pub async fn pipeline_guard(&self, settings: &[(&str, &str)]) -> PipelineGuard {
        let vars = self.variables(settings);
        let policy = Policy::from_vars(vars.clone()).expect("policy");
        let config = PipelineConfig::from_vars(vars).expect("pipeline-guard settings");
        let plumbing = self.plumbing(&policy).await;
        PipelineGuard {
            connector: Arc::new(SessionPipelineConnector::new(plumbing.sessions)),
            policy,
            config,
            alerting: plumbing.alerting,
            confirmation: Default::default(),
        }
    }

    /// guardduty-responder wired as its `main` wires it, against moto, with extra settings.
    pub async fn guardduty_responder(&self, settings: &[(&str, &str)]) -> GuardDutyResponder {
        let vars = self.variables(settings);
        let policy = Policy::from_vars(vars.clone()).expect("policy");
        let config = ResponderConfig::from_vars(vars).expect("guardduty-responder settings");
        let plumbing = self.plumbing(&policy).await;
        GuardDutyResponder {
            connector: Arc::new(SessionResponderConnector::new(plumbing.sessions)),
            policy,
            config,
            alerting: plumbing.alerting,
            confirmation: Default::default(),
        }
    }
}
