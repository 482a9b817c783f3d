//! AWS sessions per (account, region).
//!
//! The function's own account uses the function's own credentials. Any other account is reached
//! by assuming the function's own member role there,
//! `arn:<partition>:iam::<account>:role/<MEMBER_ROLE_NAME>-<function>` ([`member_role_name_for`]:
//! templates/member.yaml creates one per function, each allowing only that function's calls and
//! trusting only that function's central role). Sessions are cached for as
//! long as the Lambda container stays warm; the assumed-role provider refreshes its credentials
//! before they expire.

use std::collections::HashMap;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use tokio::sync::{Mutex, OnceCell};

use super::AwsError;
use crate::arn::Arn;
use crate::identity::{AccountId, AwsRegion};

/// The member role `function` assumes in other accounts: `<MEMBER_ROLE_NAME>-<function>`, e.g.
/// `rdsguard-remediation-network-guard`. IAM role names are at most 64 characters, so
/// MEMBER_ROLE_NAME is at most 44 (the longest suffix is `-guardduty-responder`).
pub fn member_role_name_for(member_role_name: &str, function: &str) -> String {
    format!("{member_role_name}-{function}")
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot tell which account rdsguard runs in: {0}")]
    OwnAccount(String),
    #[error("cannot assume {role_arn}: {message}")]
    AssumeRole {
        role_arn: String,
        message: String,
        /// STS answered and refused (AccessDenied, no such role, region disabled...): the account
        /// is not set up. `false`: no answer, or a transient one (timeout, throttling, STS
        /// unavailable), which a retry can get past.
        refused: bool,
    },
}

/// Who the function's own credentials are (STS GetCallerIdentity, asked once).
#[derive(Debug, Clone, PartialEq, Eq)]
struct OwnIdentity {
    account: AccountId,
    /// The IAM role (or, outside Lambda, the identity) behind the credentials.
    arn: String,
}

#[derive(Debug)]
pub struct AccountSessions {
    base: SdkConfig,
    member_role_name: String,
    own_identity: OnceCell<OwnIdentity>,
    cache: Mutex<HashMap<(AccountId, AwsRegion), SdkConfig>>,
}

impl AccountSessions {
    /// IAM actions this provider calls. (`sts:GetCallerIdentity` needs no permission.)
    pub const IAM_ACTIONS: &'static [&'static str] = &["sts:AssumeRole"];

    const SESSION_NAME: &'static str = "rdsguard";

    /// Sessions that assume the role named `member_role_name` itself in other accounts. Functions
    /// use [`Self::for_function`].
    pub fn new(base: SdkConfig, member_role_name: impl Into<String>) -> Self {
        Self {
            base,
            member_role_name: member_role_name.into(),
            own_identity: OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Sessions of `function` (e.g. `network-guard`): in other accounts it assumes its own member
    /// role, [`member_role_name_for`].
    pub fn for_function(base: SdkConfig, member_role_name: &str, function: &str) -> Self {
        Self::new(base, member_role_name_for(member_role_name, function))
    }

    /// The role assumed in a member account.
    pub fn member_role_arn(&self, account: &AccountId, region: &AwsRegion) -> String {
        Arn::new(region.partition(), "iam", "", account.as_str(), format!("role/{}", self.member_role_name)).to_string()
    }

    /// The account the function's own credentials belong to (asked of STS once).
    pub async fn own_account(&self) -> Result<&AccountId, SessionError> {
        Ok(&self.own_identity().await?.account)
    }

    async fn own_identity(&self) -> Result<&OwnIdentity, SessionError> {
        self.own_identity
            .get_or_try_init(|| async {
                let sts = aws_sdk_sts::Client::new(&self.base);
                let identity =
                    sts.get_caller_identity().send().await.map_err(|e| {
                        SessionError::OwnAccount(AwsError::from_sdk("GetCallerIdentity", e).to_string())
                    })?;
                let account = AccountId::parse(identity.account().unwrap_or_default())
                    .map_err(|e| SessionError::OwnAccount(e.to_string()))?;
                Ok(OwnIdentity { account, arn: role_of_session(identity.arn().unwrap_or_default()) })
            })
            .await
    }

    /// The IAM role rdsguard acts as in `account`: the member role it assumes there, or, in its
    /// own account, the function's own role (as STS reports it). Named in every alert.
    pub async fn acting_as(&self, account: &AccountId, region: &AwsRegion) -> Result<String, SessionError> {
        let own = self.own_identity().await?;
        Ok(if &own.account == account { own.arn.clone() } else { self.member_role_arn(account, region) })
    }

    /// SDK configuration for calls in `account` and `region`.
    pub async fn config_for(&self, account: &AccountId, region: &AwsRegion) -> Result<SdkConfig, SessionError> {
        let key = (account.clone(), region.clone());
        if let Some(config) = self.cache.lock().await.get(&key) {
            return Ok(config.clone());
        }
        let own = self.own_account().await?;
        let config = if own == account {
            self.base.to_builder().region(Region::new(region.to_string())).build()
        } else {
            let role_arn = self.member_role_arn(account, region);
            let provider = AssumeRoleProvider::builder(role_arn.clone())
                .session_name(Self::SESSION_NAME)
                .configure(&self.base)
                .build()
                .await;
            // Assume now, so a missing role or trust policy is reported as such rather than as an
            // obscure failure of the first RDS call.
            provider.provide_credentials().await.map_err(|e| SessionError::AssumeRole {
                role_arn: role_arn.clone(),
                message: error_chain(&e),
                refused: sts_refused(&e),
            })?;
            self.base
                .to_builder()
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .region(Region::new(region.to_string()))
                .build()
        };
        self.cache.lock().await.insert(key, config.clone());
        Ok(config)
    }
}

/// `arn:aws:sts::111122223333:assumed-role/NAME/SESSION` → `arn:aws:iam::111122223333:role/NAME`
/// (a Lambda function's credentials are a session of its execution role). Any other identity (an
/// IAM user, outside Lambda) is returned as it is.
fn role_of_session(caller_arn: &str) -> String {
    if let Ok(session) = Arn::parse(caller_arn) {
        if session.service == "sts" && session.region.is_empty() {
            if let Some((role, _session)) =
                session.resource.strip_prefix("assumed-role/").and_then(|r| r.split_once('/'))
            {
                return Arn::new(session.partition, "iam", "", session.account, format!("role/{role}")).to_string();
            }
        }
    }
    caller_arn.to_owned()
}

/// STS error codes that say "try again later", not "no".
const TRANSIENT_STS_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalError",
    "IDPCommunicationError",
];

/// Whether a failed AssumeRole was STS refusing (the role is missing or does not trust the
/// caller, the region is disabled) rather than a timeout, a connection failure or throttling.
fn sts_refused(error: &CredentialsError) -> bool {
    match error {
        // aws-config reports RegionDisabled and MalformedPolicyDocument this way.
        CredentialsError::InvalidConfiguration(_) => true,
        CredentialsError::ProviderError(_) => {
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                if let Some(sdk) = cause.downcast_ref::<SdkError<AssumeRoleError>>() {
                    return match sdk {
                        SdkError::ServiceError(context) => {
                            !context.err().code().is_some_and(|code| TRANSIENT_STS_CODES.contains(&code))
                        }
                        _ => false,
                    };
                }
                source = cause.source();
            }
            false
        }
        _ => false,
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A connector's clients, built once per (account, region) and kept while the container is warm,
/// so an invocation reuses them instead of building SDK clients again.
pub struct ClientCache<P> {
    cache: Mutex<HashMap<(AccountId, AwsRegion), P>>,
}

impl<P> std::fmt::Debug for ClientCache<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCache").finish_non_exhaustive()
    }
}

impl<P> Default for ClientCache<P> {
    fn default() -> Self {
        Self { cache: Mutex::new(HashMap::new()) }
    }
}

impl<P: Clone> ClientCache<P> {
    /// The clients for `account` and `region`, built by `build` from [`AccountSessions::config_for`]
    /// the first time.
    pub async fn get_or_build(
        &self,
        sessions: &AccountSessions,
        account: &AccountId,
        region: &AwsRegion,
        build: impl FnOnce(&SdkConfig) -> P,
    ) -> Result<P, SessionError> {
        let key = (account.clone(), region.clone());
        if let Some(clients) = self.cache.lock().await.get(&key) {
            return Ok(clients.clone());
        }
        let clients = build(&sessions.config_for(account, region).await?);
        self.cache.lock().await.insert(key, clients.clone());
        Ok(clients)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_a_refusal_from_sts_means_the_member_is_not_set_up() {
        use super::*;
        use aws_sdk_sts::config::http::HttpResponse;
        use aws_sdk_sts::error::ErrorMetadata;
        use aws_smithy_types::body::SdkBody;

        let answered = |code: &str| {
            let err = AssumeRoleError::generic(ErrorMetadata::builder().code(code).message("no").build());
            let raw = HttpResponse::new(403.try_into().unwrap(), SdkBody::empty());
            CredentialsError::provider_error(SdkError::service_error(err, raw))
        };
        let cases = [
            ("AccessDenied", answered("AccessDenied"), true),
            ("no such role (unparsed answer)", answered("Unknown"), true),
            ("Throttling", answered("Throttling"), false),
            ("ServiceUnavailable", answered("ServiceUnavailable"), false),
            ("timeout", CredentialsError::provider_error(SdkError::<AssumeRoleError>::timeout_error("slow")), false),
            ("provider timed out", CredentialsError::provider_timed_out(std::time::Duration::from_secs(5)), false),
            ("region disabled", CredentialsError::invalid_configuration("RegionDisabledException"), true),
        ];
        for (name, error, expected) in cases {
            assert_eq!(sts_refused(&error), expected, "{name}");
        }
    }

    use super::role_of_session;

    #[test]
    fn each_function_assumes_its_own_member_role() {
        assert_eq!(
            super::member_role_name_for("rdsguard-remediation", "network-guard"),
            "rdsguard-remediation-network-guard"
        );
        assert_eq!(super::member_role_name_for(&"r".repeat(44), "guardduty-responder").len(), 64);
    }

    #[test]
    fn a_lambda_session_is_named_by_its_role() {
        let cases = [
            (
                "arn:aws:sts::111122223333:assumed-role/rdsguard-RdsGuardFunctionRole-AbC/rdsguard-RdsGuardFunction-x",
                "arn:aws:iam::111122223333:role/rdsguard-RdsGuardFunctionRole-AbC",
            ),
            ("arn:aws-cn:sts::111122223333:assumed-role/r/s", "arn:aws-cn:iam::111122223333:role/r"),
            ("arn:aws:iam::123456789012:user/moto", "arn:aws:iam::123456789012:user/moto"),
            ("arn:aws:sts::123456789012:assumed-role/no-session", "arn:aws:sts::123456789012:assumed-role/no-session"),
            ("", ""),
        ];
        for (caller, role) in cases {
            assert_eq!(role_of_session(caller), role, "{caller}");
        }
    }
}
