//! guardrail-manager end to end: the real handler, the real SDK, moto server as AWS Organizations,
//! a local listener as CloudFormation's ResponseURL. Every test reads the policies back from moto
//! and the alerts back from the queue subscribed to the topic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use guardrail_manager::handle_event;
use rdsguard::aws::SdkOrganizations;
use rdsguard::guardrails::{desired_policies, GuardrailSettings};
use rdsguard::kernel::InvocationOutcome;
use rdsguard_tests::estate::HOME_REGION;
use rdsguard_tests::scp_organization::{custom_resource_request, Org, ResponseCatcher};
use rdsguard_tests::threat_events::api_call;
use rdsguard_tests::{Estate, MOTO_ACCOUNT};
use serde_json::{json, Value};

const ORGANIZATIONS: &str = "organizations.amazonaws.com";
const FOREIGN: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PlatformTeam","Effect":"Deny","Action":"ec2:DeleteVpc","Resource":"*"}]}"#;

fn settings(org: &Org) -> Vec<(&'static str, String)> {
    vec![
        ("GUARDRAILS", "deny-unencrypted-rds,rds-region-lock,protect-databases".to_owned()),
        ("GUARDRAIL_TARGETS", format!("{},{}", org.root_id, org.ou_id)),
        ("ALLOWED_REGIONS", "eu-west-1,us-east-1".to_owned()),
        ("BREAK_GLASS_PRINCIPALS", "arn:aws:iam::*:role/BreakGlass".to_owned()),
    ]
}

fn borrowed<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The policies guardrail-manager should have made, as (name, parsed content).
fn expected(settings: &[(&'static str, String)]) -> Vec<(String, Value)> {
    let vars = settings.iter().map(|(k, v)| ((*k).to_owned(), v.clone()));
    desired_policies(&GuardrailSettings::from_vars(vars).unwrap())
        .unwrap()
        .into_iter()
        .map(|p| (p.name, serde_json::from_str(&p.content).unwrap()))
        .collect()
}

async fn ours(estate: &Estate) -> Vec<(String, String)> {
    estate.scps().await.into_iter().filter(|(_, name)| name.starts_with("rdsguard-guardrails-")).collect()
}

#[tokio::test]
async fn create_applies_and_attaches_and_a_second_apply_changes_nothing() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();

    let summary = handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();

    let response = cloudformation.next();
    assert!(response.request_line.starts_with("PUT /cloudformation-response?X-Amz-Signature=test "), "{response:?}");
    assert_eq!(response.content_type.as_deref(), Some(""), "pre-signed URLs are signed without a content type");
    assert_eq!(response.body["Status"], "SUCCESS", "{}", response.body);
    assert_eq!(response.body["PhysicalResourceId"], "rdsguard-guardrails");
    assert_eq!(response.body["RequestId"], "Create-request");
    assert_eq!(response.body["LogicalResourceId"], "GuardrailPolicies");
    assert_eq!(summary.outcome, InvocationOutcome::Applied);

    let wanted = expected(&settings);
    let policies = ours(&estate).await;
    assert_eq!(policies.len(), wanted.len());
    assert_eq!(
        response.body["Data"]["PolicyIds"],
        policies.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(",")
    );
    for (name, content) in &wanted {
        let (id, _) = policies.iter().find(|(_, n)| n == name).expect("created");
        assert_eq!(&estate.scp_content(id).await, content, "{name}");
        let tags = estate.organizations().await.list_tags_for_resource().resource_id(id).send().await.unwrap();
        assert!(tags.tags().iter().any(|t| t.key() == "rdsguard:managed-by" && t.value() == "rdsguard-guardrails"));
    }
    assert_eq!(estate.scps_on(&org.root_id).await, ["FullAWSAccess", "rdsguard-guardrails-1"]);
    assert_eq!(
        estate.scps_on(&org.ou_id).await,
        ["FullAWSAccess", "rdsguard-guardrails-1"],
        "AWS attaches FullAWSAccess to new OUs"
    );

    let again =
        handle_event(&custom_resource_request("Update", &cloudformation.url, Some("rdsguard-guardrails")), &manager)
            .await
            .unwrap();
    assert!(again.detail.plan.is_empty(), "the second apply must plan nothing: {:?}", again.detail.plan);
    assert_eq!(cloudformation.next().body["Status"], "SUCCESS");
    assert_eq!(ours(&estate).await, policies, "same policies, same ids");
    assert!(estate.alerts().await.is_empty(), "applying is not an alert");
}

#[tokio::test]
async fn a_manual_update_policy_is_alerted_critical_and_the_content_restored() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let (id, _) = ours(&estate).await.pop().unwrap();
    let weakened =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"rds:DeleteDBSnapshot","Resource":"*"}]}"#;
    estate.organizations().await.update_policy().policy_id(&id).content(weakened).send().await.unwrap();

    let event = api_call(
        ORGANIZATIONS,
        "UpdatePolicy",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"policyId": id, "content": weakened}),
        None,
    );
    let summary = handle_event(&event, &manager).await.unwrap();

    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    assert_eq!(estate.scp_content(&id).await, expected(&settings)[0].1, "the content must be restored");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "RDSGUARD.GUARDRAIL");
    assert_eq!(alert.body["severity"], "CRITICAL");
    assert_eq!(alert.body["actor"], "arn:aws:iam::123456789012:user/mallory");
    assert_eq!(alert.body["event_name"], "UpdatePolicy");
    assert_eq!(alert.body["resource_id"], id);
    assert_eq!(alert.body["resource_type"], "AWS::Organizations::Policy");
    assert_eq!(alert.body["observed"]["PolicyName"], "rdsguard-guardrails-1");
    assert_eq!(alert.body["observed"]["SourceIPAddress"], "198.51.100.66");
    assert_eq!(alert.body["action"]["kind"], "reapply_guardrails");
    assert_eq!(alert.action_status(), "succeeded");
    assert!(alert.body["action"]["detail"].as_str().unwrap().contains("~ update policy rdsguard-guardrails-1"));
    assert_eq!(
        alert.subject,
        format!("CRITICAL RDSGUARD.GUARDRAIL {id} (123456789012/us-east-1): guardrail SCP edited - succeeded")
    );

    // The re-apply is itself an UpdatePolicy call: made by the function, it is not tampering.
    let mut own = event.clone();
    own["detail"]["userIdentity"]["arn"] = json!(
        "arn:aws:sts::123456789012:assumed-role/rdsguard-GuardrailManagerFunctionRole-X/rdsguard-guardrail-manager"
    );
    assert_eq!(handle_event(&own, &manager).await.unwrap().outcome, InvocationOutcome::Ignored);
    assert!(estate.alerts().await.is_empty());

    // Another role's session named after the function is not the function.
    estate.organizations().await.update_policy().policy_id(&id).content(weakened).send().await.unwrap();
    let mut impostor = event.clone();
    impostor["detail"]["userIdentity"]["arn"] =
        json!("arn:aws:sts::123456789012:assumed-role/Mallory/rdsguard-guardrail-manager");
    assert_eq!(handle_event(&impostor, &manager).await.unwrap().outcome, InvocationOutcome::Alerted);
    assert_eq!(estate.scp_content(&id).await, expected(&settings)[0].1, "restored again");
    assert_eq!(estate.alerts().await.len(), 1);
}

#[tokio::test]
async fn alert_mode_reports_a_detach_but_leaves_it() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let mut settings = settings(&org);
    settings.push(("MODE", "alert".to_owned()));
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let (id, _) = ours(&estate).await.pop().unwrap();
    estate.organizations().await.detach_policy().policy_id(&id).target_id(&org.ou_id).send().await.unwrap();

    let event = api_call(
        ORGANIZATIONS,
        "DetachPolicy",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"policyId": id, "targetId": org.ou_id}),
        None,
    );
    handle_event(&event, &manager).await.unwrap();

    assert_eq!(estate.scps_on(&org.ou_id).await, ["FullAWSAccess"], "MODE=alert changes nothing");
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].action_status(), "not_attempted");
    let detail = alerts[0].body["action"]["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("+ attach policy rdsguard-guardrails-1 to {}", org.ou_id)), "{detail}");
}

#[tokio::test]
async fn the_scheduled_drift_check_re_attaches_and_is_quiet_when_in_sync() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let scheduled = json!({
        "version": "0", "id": "drift-1", "detail-type": "Scheduled Event", "source": "aws.scheduler",
        "account": MOTO_ACCOUNT, "time": "2026-11-23T10:00:00Z", "region": HOME_REGION, "resources": [], "detail": {}
    });
    assert_eq!(handle_event(&scheduled, &manager).await.unwrap().outcome, InvocationOutcome::InSync);

    let (id, _) = ours(&estate).await.pop().unwrap();
    estate.organizations().await.detach_policy().policy_id(&id).target_id(&org.root_id).send().await.unwrap();
    let summary = handle_event(&scheduled, &manager).await.unwrap();

    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    assert_eq!(estate.scps_on(&org.root_id).await, ["FullAWSAccess", "rdsguard-guardrails-1"]);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!((alerts[0].body["severity"].as_str(), alerts[0].action_status()), (Some("HIGH"), "succeeded"));
}

#[tokio::test]
async fn foreign_policies_are_never_modified_and_delete_removes_only_ours() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let foreign = estate.create_foreign_policy("platform-team", FOREIGN, &[&org.root_id, &org.ou_id]).await;
    // Same prefix, but not tagged as managed: not ours either.
    let lookalike = estate.create_foreign_policy("rdsguard-guardrails-legacy", FOREIGN, &[&org.ou_id]).await;
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    assert_eq!(cloudformation.next().body["Status"], "SUCCESS");

    // Someone edits their own policy: none of rdsguard's business.
    let event = api_call(ORGANIZATIONS, "UpdatePolicy", MOTO_ACCOUNT, HOME_REGION, json!({"policyId": foreign}), None);
    let summary = handle_event(&event, &manager).await.unwrap();
    assert_eq!(summary.outcome, InvocationOutcome::Ignored, "{summary:?}");
    assert!(estate.alerts().await.is_empty());

    let deleted =
        handle_event(&custom_resource_request("Delete", &cloudformation.url, Some("rdsguard-guardrails")), &manager)
            .await
            .unwrap();
    assert_eq!(deleted.outcome, InvocationOutcome::Removed);
    assert_eq!(cloudformation.next().body["Status"], "SUCCESS");
    assert!(ours(&estate).await.iter().all(|(id, _)| id == &lookalike), "only the lookalike keeps the prefix");
    for id in [&foreign, &lookalike] {
        assert_eq!(estate.scp_content(id).await, serde_json::from_str::<Value>(FOREIGN).unwrap());
    }
    assert_eq!(estate.scps_on(&org.root_id).await, ["FullAWSAccess", "platform-team"]);
    assert_eq!(estate.scps_on(&org.ou_id).await, ["FullAWSAccess", "platform-team", "rdsguard-guardrails-legacy"]);
}

#[tokio::test]
async fn a_target_at_its_quota_fails_the_stack_with_the_limit_named_and_changes_nothing() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    for name in ["team-a", "team-b", "team-c", "team-d"] {
        estate.create_foreign_policy(name, FOREIGN, &[&org.root_id]).await;
    }
    let manager = estate.guardrail_manager(&borrowed(&settings(&org))).await;
    let cloudformation = ResponseCatcher::start();

    let summary = handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();

    assert_eq!(summary.outcome, InvocationOutcome::Failed);
    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "FAILED");
    let reason = response.body["Reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("target {} would need 6 SCPs but AWS allows at most 5 per target", org.root_id)),
        "{reason}"
    );
    assert!(ours(&estate).await.is_empty(), "nothing is created when the plan cannot fit");
    assert!(!cloudformation.more(), "exactly one answer per request");
}

#[tokio::test]
async fn an_unusable_request_still_answers_cloudformation() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let manager = estate.guardrail_manager(&borrowed(&settings(&org))).await;
    let cloudformation = ResponseCatcher::start();
    let mut request = custom_resource_request("Create", &cloudformation.url, None);
    request["RequestType"] = json!("Replace");

    handle_event(&request, &manager).await.unwrap();

    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "FAILED");
    assert!(response.body["Reason"].as_str().unwrap().contains("\"Replace\" is not Create, Update or Delete"));
}

#[tokio::test]
async fn invalid_settings_still_answer_cloudformation_with_the_variable_named() {
    use guardrail_manager::custom_resource::HttpResponseSender;

    let problem = GuardrailSettings::from_vars([("GUARDRAILS".to_owned(), "protect-databases".to_owned())])
        .unwrap_err()
        .to_string();
    let cloudformation = ResponseCatcher::start();
    let responses = HttpResponseSender::new().unwrap();
    let estate = Estate::start().await;
    let organization = SdkOrganizations::new(estate.organizations().await);

    let summary = guardrail_manager::handle_unconfigured(
        &custom_resource_request("Create", &cloudformation.url, None),
        &problem,
        &responses,
        &organization,
    )
    .await
    .unwrap();

    assert_eq!(summary.outcome, InvocationOutcome::Failed);
    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "FAILED");
    assert!(
        response.body["Reason"].as_str().unwrap().contains("GUARDRAIL_TARGETS is required but not set"),
        "{}",
        response.body
    );
    let scheduled = json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
    assert!(
        guardrail_manager::handle_unconfigured(&scheduled, &problem, &responses, &organization).await.is_err(),
        "other triggers fail loudly"
    );
}

#[tokio::test]
async fn with_an_invalid_configuration_delete_still_succeeds_so_the_stack_can_roll_back() {
    use guardrail_manager::custom_resource::HttpResponseSender;
    use guardrail_manager::handler::UNCONFIGURED_PHYSICAL_ID;

    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    assert_eq!(cloudformation.next().body["Status"], "SUCCESS");
    assert!(!ours(&estate).await.is_empty());

    // The shared policy is invalid too (MODE): the same answered path, not an init failure.
    let problem = rdsguard::policy::Policy::from_vars([
        ("ALERT_TOPIC_ARN".to_owned(), "arn:aws:sns:us-east-1:123456789012:rdsguard-alerts".to_owned()),
        ("MODE".to_owned(), "enforce".to_owned()),
    ])
    .unwrap_err()
    .to_string();
    let responses = HttpResponseSender::new().unwrap();
    let organization = SdkOrganizations::new(estate.organizations().await);

    // A Create refused because of the configuration: its rollback Delete has nothing to remove.
    let rollback = custom_resource_request("Delete", &cloudformation.url, Some(UNCONFIGURED_PHYSICAL_ID));
    let summary = guardrail_manager::handle_unconfigured(&rollback, &problem, &responses, &organization).await.unwrap();
    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "SUCCESS", "{}", response.body);
    assert_eq!(response.body["PhysicalResourceId"], UNCONFIGURED_PHYSICAL_ID);
    assert_eq!(summary.outcome, InvocationOutcome::Removed);
    assert_eq!(ours(&estate).await.len(), expected(&settings).len(), "nothing of the real prefix touched");

    // Deleting a stack whose configuration became invalid removes what its physical id names.
    let delete = custom_resource_request("Delete", &cloudformation.url, Some("rdsguard-guardrails"));
    guardrail_manager::handle_unconfigured(&delete, &problem, &responses, &organization).await.unwrap();
    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "SUCCESS", "{}", response.body);
    assert!(ours(&estate).await.is_empty(), "the managed policies are removed");
    assert_eq!(estate.scps_on(&org.root_id).await, ["FullAWSAccess"]);

    // Create and Update are still refused, naming the setting.
    let create = custom_resource_request("Create", &cloudformation.url, None);
    guardrail_manager::handle_unconfigured(&create, &problem, &responses, &organization).await.unwrap();
    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "FAILED");
    assert_eq!(response.body["PhysicalResourceId"], UNCONFIGURED_PHYSICAL_ID);
    assert!(response.body["Reason"].as_str().unwrap().contains("MODE=\"enforce\" is invalid"), "{}", response.body);
}

#[tokio::test]
async fn delete_succeeds_when_a_target_ou_no_longer_exists() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    assert_eq!(cloudformation.next().body["Status"], "SUCCESS");
    // The OU is emptied and deleted (moto keeps a deleted OU's attachments, AWS drops them, so
    // the policy is detached first here; a detach answered "not found" is covered by the
    // reconcile unit tests).
    let organizations = estate.organizations().await;
    let (id, _) = ours(&estate).await.pop().unwrap();
    organizations.detach_policy().policy_id(&id).target_id(&org.ou_id).send().await.unwrap();
    organizations.delete_organizational_unit().organizational_unit_id(&org.ou_id).send().await.unwrap();

    // The configuration still names the deleted OU, and an account that has left the organisation.
    let mut stale = settings.clone();
    stale[1].1 = format!("{},{},999999999999", org.root_id, org.ou_id);
    let manager = estate.guardrail_manager(&borrowed(&stale)).await;

    let summary =
        handle_event(&custom_resource_request("Delete", &cloudformation.url, Some("rdsguard-guardrails")), &manager)
            .await
            .unwrap();

    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "SUCCESS", "{}", response.body);
    assert_eq!(summary.outcome, InvocationOutcome::Removed);
    assert!(ours(&estate).await.is_empty());
    assert_eq!(estate.scps_on(&org.root_id).await, ["FullAWSAccess"]);

    // Removing by switching every guardrail off (an Update) reads no target either.
    let mut root_only = settings.clone();
    root_only[1].1 = org.root_id.clone();
    let manager = estate.guardrail_manager(&borrowed(&root_only)).await;
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    assert_eq!(cloudformation.next().body["Status"], "SUCCESS");
    assert!(!ours(&estate).await.is_empty());
    stale[0].1 = String::new();
    let manager = estate.guardrail_manager(&borrowed(&stale)).await;
    let update = custom_resource_request("Update", &cloudformation.url, Some("rdsguard-guardrails"));
    handle_event(&update, &manager).await.unwrap();
    let response = cloudformation.next();
    assert_eq!(response.body["Status"], "SUCCESS", "{}", response.body);
    assert!(ours(&estate).await.is_empty());
}

const REAL_EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/tests/fixtures/real-events");

fn real_event(name: &str) -> String {
    std::fs::read_to_string(format!("{REAL_EVENTS}/{name}")).unwrap()
}

/// The real Organizations records (bare CloudTrail records, as forwarders and test tools send
/// them): the sanitised placeholders are refused, the same records with real ids are alerted.
#[tokio::test]
async fn real_organizations_records_are_handled_as_captured() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let (id, _) = ours(&estate).await.pop().unwrap();

    // As captured: the management account id is a placeholder, so nobody can be named safely.
    let detach = real_event("cloudtrail-organizations-DetachPolicy-SCP-console-root.json");
    let as_captured: Value = serde_json::from_str(&detach.replace("p-bvdv3rx3", &id)).unwrap();
    let error = handle_event(&as_captured, &manager).await.unwrap_err();
    assert_eq!(error.kind(), "UnusableEvent", "{error}");

    // The root user detaches the guardrail from the OU in the console.
    estate.organizations().await.detach_policy().policy_id(&id).target_id(&org.ou_id).send().await.unwrap();
    let real: Value = serde_json::from_str(
        &detach
            .replace("<MANAGEMENT_ACCT_ID>", MOTO_ACCOUNT)
            .replace("<MEMBER_ACCT_ID>", &org.ou_id)
            .replace("p-bvdv3rx3", &id),
    )
    .unwrap();
    handle_event(&real, &manager).await.unwrap();
    assert_eq!(estate.scps_on(&org.ou_id).await, ["FullAWSAccess", "rdsguard-guardrails-1"], "re-attached");

    // A failed AttachPolicy of the guardrail elsewhere: an attempt, nothing re-applied.
    let failed: Value = serde_json::from_str(
        &real_event("cloudtrail-organizations-AttachPolicy-PolicyTypeNotEnabled-awsdocs.json")
            .replace("111111111111", MOTO_ACCOUNT)
            .replace("p-examplepolicyid111", &id),
    )
    .unwrap();
    handle_event(&failed, &manager).await.unwrap();

    // Leaving the organisation is not a policy call guardrail-manager handles.
    let leave: Value = serde_json::from_str(&real_event(
        "cloudtrail-organizations-LeaveOrganization-AccessDenied-stratus-red-team.json",
    ))
    .unwrap();
    assert_eq!(handle_event(&leave, &manager).await.unwrap().outcome, InvocationOutcome::Ignored);

    let alerts = estate.alerts().await;
    let seen: Vec<(&str, &str, &str, &str)> = alerts
        .iter()
        .map(|a| {
            (
                a.body["event_name"].as_str().unwrap(),
                a.body["severity"].as_str().unwrap(),
                a.body["actor"].as_str().unwrap(),
                a.action_status(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("DetachPolicy", "CRITICAL", "arn:aws:iam::123456789012:root", "succeeded"),
            ("AttachPolicy", "HIGH", "arn:aws:iam::123456789012:user/diego", "not_attempted"),
        ]
    );
    assert_eq!(alerts[1].body["observed"]["ErrorCode"], "PolicyTypeNotEnabledException");
}

#[tokio::test]
async fn scps_disabled_on_the_root_are_enabled_again_and_the_guardrails_re_applied() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let organizations = estate.organizations().await;
    organizations
        .enable_policy_type()
        .root_id(&org.root_id)
        .policy_type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let (id, _) = ours(&estate).await.pop().unwrap();
    organizations
        .disable_policy_type()
        .root_id(&org.root_id)
        .policy_type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .unwrap();
    // AWS detaches every SCP when the type is disabled (moto does not): do it as AWS would.
    organizations.detach_policy().policy_id(&id).target_id(&org.root_id).send().await.unwrap();

    let event = api_call(
        ORGANIZATIONS,
        "DisablePolicyType",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"rootId": org.root_id, "policyType": "SERVICE_CONTROL_POLICY"}),
        None,
    );
    handle_event(&event, &manager).await.unwrap();

    let roots = organizations.list_roots().send().await.unwrap();
    let types: Vec<String> =
        roots.roots()[0].policy_types().iter().filter_map(|t| t.r#type()).map(|t| t.as_str().to_owned()).collect();
    assert_eq!(types, ["SERVICE_CONTROL_POLICY"], "SCPs enabled again");
    assert_eq!(estate.scps_on(&org.root_id).await, ["FullAWSAccess", "rdsguard-guardrails-1"]);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].body["resource_type"], "AWS::Organizations::Root");
    assert_eq!(alerts[0].body["resource_id"], org.root_id);
    assert_eq!((alerts[0].body["severity"].as_str(), alerts[0].action_status()), (Some("CRITICAL"), "succeeded"));

    // A record without rootId is still alerted, but nothing is enabled on a guessed root.
    let mut nameless = event.clone();
    nameless["detail"]["requestParameters"] = json!({"policyType": "SERVICE_CONTROL_POLICY"});
    handle_event(&nameless, &manager).await.unwrap();
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["resource_id"], "unknown root");
    assert_eq!(alerts[0].action_status(), "skipped", "in sync, and no EnablePolicyType on a placeholder");
}

#[tokio::test]
async fn removing_the_managed_tag_is_tampering_re_tagged_and_alerted_not_a_failed_invocation() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let settings = settings(&org);
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let (id, _) = ours(&estate).await.pop().unwrap();
    let organizations = estate.organizations().await;
    let untag = || organizations.untag_resource().resource_id(&id).tag_keys("rdsguard:managed-by").send();
    untag().await.unwrap();
    let event = api_call(
        ORGANIZATIONS,
        "UntagResource",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"resourceId": id, "tagKeys": ["rdsguard:managed-by"]}),
        None,
    );

    let summary = handle_event(&event, &manager).await.unwrap();

    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    let tags = organizations.list_tags_for_resource().resource_id(&id).send().await.unwrap();
    assert!(
        tags.tags().iter().any(|t| t.key() == "rdsguard:managed-by" && t.value() == "rdsguard-guardrails"),
        "the managed tag is put back"
    );
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].rule(), "RDSGUARD.GUARDRAIL");
    assert_eq!(alerts[0].body["severity"], "CRITICAL");
    assert_eq!(alerts[0].body["event_name"], "UntagResource");
    assert_eq!(alerts[0].body["resource_id"], id);
    assert_eq!(alerts[0].action_status(), "succeeded");
    assert!(alerts[0].subject.contains("guardrail SCP tags changed"), "{}", alerts[0].subject);
    let drift = json!({
        "detail-type": "Scheduled Event", "source": "aws.events", "id": "drift-1",
        "account": MOTO_ACCOUNT, "region": HOME_REGION, "time": "2026-11-23T16:00:00Z", "detail": {}
    });
    assert_eq!(
        handle_event(&drift, &manager).await.unwrap().outcome,
        InvocationOutcome::InSync,
        "the policy is managed again"
    );

    // Found by the drift check (the event was missed): a CRITICAL alert naming the missing tag,
    // never a failed invocation, and the policy is not taken over.
    untag().await.unwrap();
    let summary = handle_event(&drift, &manager).await.unwrap();
    assert_eq!(summary.outcome, InvocationOutcome::Alerted);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["severity"], "CRITICAL");
    assert_eq!(alerts[0].body["observed"]["PolicyName"], "rdsguard-guardrails-1");
    assert_eq!(alerts[0].body["observed"]["MissingTag"], "rdsguard:managed-by=rdsguard-guardrails");
    assert_eq!(alerts[0].action_status(), "not_attempted");
    let tags = organizations.list_tags_for_resource().resource_id(&id).send().await.unwrap();
    assert!(tags.tags().is_empty(), "a policy without the tag is never taken over by the drift check");
}

#[tokio::test]
async fn an_account_moved_out_of_a_guardrail_ou_or_removed_is_alerted_and_a_move_within_it_is_not() {
    let estate = Estate::start().await;
    let org = estate.create_organization().await;
    let organizations = estate.organizations().await;
    let settings = vec![
        ("GUARDRAILS", "deny-unencrypted-rds".to_owned()),
        ("GUARDRAIL_TARGETS", org.ou_id.clone()),
        ("ALLOWED_REGIONS", "eu-west-1".to_owned()),
    ];
    let manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let team = organizations
        .create_organizational_unit()
        .parent_id(&org.ou_id)
        .name("payments")
        .send()
        .await
        .unwrap()
        .organizational_unit
        .and_then(|o| o.id)
        .unwrap();
    let created = organizations.create_account().email("payments@example.com").account_name("payments").send().await;
    let account = created.unwrap().create_account_status.and_then(|s| s.account_id).unwrap();
    let move_account = |from: &str, to: &str| {
        organizations.move_account().account_id(&account).source_parent_id(from).destination_parent_id(to).send()
    };
    move_account(&org.root_id, &org.ou_id).await.unwrap();
    let moved = |from: &str, to: &str| {
        api_call(
            ORGANIZATIONS,
            "MoveAccount",
            MOTO_ACCOUNT,
            HOME_REGION,
            json!({"accountId": account, "sourceParentId": from, "destinationParentId": to}),
            None,
        )
    };

    // Into a child OU: the guardrails attached to the OU still apply.
    move_account(&org.ou_id, &team).await.unwrap();
    let within = handle_event(&moved(&org.ou_id, &team), &manager).await.unwrap();
    assert_eq!(within.outcome, InvocationOutcome::Ignored, "{within:?}");
    assert!(estate.alerts().await.is_empty());

    // From the child OU to the root: nothing targeted is on its path any more.
    move_account(&team, &org.root_id).await.unwrap();
    let out = handle_event(&moved(&team, &org.root_id), &manager).await.unwrap();
    assert_eq!(out.outcome, InvocationOutcome::Alerted);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[0];
    assert_eq!(alert.rule(), "RDSGUARD.GUARDRAIL");
    assert_eq!(alert.body["severity"], "HIGH");
    assert_eq!(alert.body["resource_type"], "AWS::Organizations::Account");
    assert_eq!(alert.body["resource_id"], account.as_str());
    assert_eq!(alert.body["actor"], "arn:aws:iam::123456789012:user/mallory");
    assert_eq!(alert.body["observed"]["GuardrailTargetsLost"], json!([org.ou_id]));
    assert_eq!(alert.body["observed"]["PathBefore"], json!([team, org.ou_id, org.root_id]));
    assert_eq!(alert.body["observed"]["PathAfter"], json!([org.root_id]));
    assert_eq!(alert.action_status(), "not_attempted", "accounts are never moved back");
    assert!(alert.subject.contains("account moved out of guardrails"), "{}", alert.subject);
    assert_eq!(estate.scps_on(&org.ou_id).await, ["FullAWSAccess", "rdsguard-guardrails-1"], "policies untouched");

    // A failed move changed nothing.
    let mut refused = moved(&org.root_id, &team);
    refused["detail"]["errorCode"] = json!("AccessDenied");
    assert_eq!(handle_event(&refused, &manager).await.unwrap().outcome, InvocationOutcome::Ignored);

    let removed = api_call(
        ORGANIZATIONS,
        "RemoveAccountFromOrganization",
        MOTO_ACCOUNT,
        HOME_REGION,
        json!({"accountId": account}),
        None,
    );
    assert_eq!(handle_event(&removed, &manager).await.unwrap().outcome, InvocationOutcome::Alerted);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["severity"], "HIGH");
    assert_eq!(alerts[0].body["observed"]["AccountId"], account.as_str());
    assert_eq!(alerts[0].body["observed"]["GuardrailTargetsLost"], json!([]));
    assert_eq!(alerts[0].body["observed"]["GuardrailTargetsPossiblyLost"], json!([org.ou_id]), "where it sat is gone");
    assert!(alerts[0].subject.contains("account left the organisation"), "{}", alerts[0].subject);

    // A move that names no account cannot be judged: the invocation fails (retried, then the DLQ).
    let unusable = api_call(ORGANIZATIONS, "MoveAccount", MOTO_ACCOUNT, HOME_REGION, json!({}), None);
    let error = handle_event(&unusable, &manager).await.unwrap_err();
    assert_eq!(error.kind(), "UnusableEvent", "{error}");
}

/// With the findings ledger, guardrail-manager alerts a drift once, not on every scheduled check
/// that finds it still there (MODE=alert leaves it), and a fresh tampering once more.
#[tokio::test]
async fn with_the_ledger_a_drift_left_in_place_is_alerted_once_not_on_every_check() {
    let estate = Estate::start().await;
    rdsguard_tests::ledger::create_findings_table(&estate.moto, HOME_REGION, "rdsguard-findings").await;
    let org = estate.create_organization().await;
    let mut settings = settings(&org);
    settings.push(("MODE", "alert".to_owned()));
    let mut manager = estate.guardrail_manager(&borrowed(&settings)).await;
    let config =
        rdsguard::ledger::LedgerConfig::from_vars([("FINDINGS_TABLE".to_owned(), "rdsguard-findings".to_owned())])
            .unwrap();
    let plumbing = rdsguard::startup::Plumbing::new(manager.policy.clone(), estate.moto.sdk_config(HOME_REGION).await)
        .with_ledger(&config, &estate.moto.sdk_config(HOME_REGION).await);
    manager.alerting = plumbing.alerting;
    let cloudformation = ResponseCatcher::start();
    handle_event(&custom_resource_request("Create", &cloudformation.url, None), &manager).await.unwrap();
    let (id, _) = ours(&estate).await.pop().unwrap();
    estate.organizations().await.detach_policy().policy_id(&id).target_id(&org.root_id).send().await.unwrap();

    let scheduled = |id: &str| {
        json!({
            "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.scheduler",
            "account": MOTO_ACCOUNT, "time": "2026-11-23T10:00:00Z", "region": HOME_REGION, "resources": [], "detail": {}
        })
    };
    // The first check alerts; the next ones find the same finding unchanged and say `logged`.
    for (check, reached) in [
        ("drift-1", InvocationOutcome::Alerted),
        ("drift-2", InvocationOutcome::Logged),
        ("drift-3", InvocationOutcome::Logged),
    ] {
        assert_eq!(handle_event(&scheduled(check), &manager).await.unwrap().outcome, reached, "{check}");
    }
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "one alert for the drift, however often it is checked: {alerts:#?}");
    assert_eq!(alerts[0].body["transition"], "new", "{:#}", alerts[0].body);
    assert_eq!(alerts[0].action_status(), "not_attempted");
    assert_eq!(estate.scps_on(&org.root_id).await, ["FullAWSAccess"], "MODE=alert changes nothing");

    // Someone attaches it again: the next check finds the organisation in sync, and the drift
    // resolves (one resolved alert); a new drift later is news again.
    let organizations = estate.organizations().await;
    organizations.attach_policy().policy_id(&id).target_id(&org.root_id).send().await.unwrap();
    assert_eq!(handle_event(&scheduled("drift-4"), &manager).await.unwrap().outcome, InvocationOutcome::InSync);
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(
        (alerts[0].body["transition"].as_str(), alerts[0].body["resolved_by"].as_str()),
        (Some("resolved"), Some("other"))
    );
    handle_event(&scheduled("drift-5"), &manager).await.unwrap();
    assert!(estate.alerts().await.is_empty(), "in sync again: nothing");
    organizations.detach_policy().policy_id(&id).target_id(&org.root_id).send().await.unwrap();
    handle_event(&scheduled("drift-6"), &manager).await.unwrap();
    let alerts = estate.alerts().await;
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert_eq!(alerts[0].body["transition"], "reopened");
}
