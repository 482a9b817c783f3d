//! template.yaml's sweeps against the code: sweep-planner and sweep-worker grant exactly what
//! their code declares, the worker is driven by the sweep queue with partial batch responses and
//! bounded by SweepConcurrency, the queue keeps what fails in an alarmed dead-letter queue, and
//! the schedule's role may only invoke the planner.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeSet;

use rdsguard::aws::{SdkEc2, SdkKms, SdkOrganizations};
use rdsguard_tests::template::{
    assert_same_set, at, function, function_statements, granted_actions, resource, set_of, strings, template,
};
use sweep_planner::{ENV_ORGANIZATION_ID, ENV_SWEEP_OUS, ENV_SWEEP_QUEUE_URL, ENV_SWEEP_REGIONS};

#[test]
fn sweep_functions_grant_exactly_what_their_code_declares() {
    let template = template();
    let worker_unscoped = [SdkEc2::INVENTORY_IAM_ACTIONS, SdkKms::IAM_ACTIONS].concat();
    let worker = granted_actions(&template, "SweepWorkerFunction", &worker_unscoped);
    assert_same_set(&worker, &set_of(sweep_worker::iam_actions()), "SweepWorkerFunction IAM actions");
    let unscoped =
        [SdkOrganizations::ACCOUNT_LISTING_UNSCOPED_IAM_ACTIONS, sweep_planner::SdkRegions::IAM_ACTIONS].concat();
    let planner = granted_actions(&template, "SweepPlannerFunction", &unscoped);
    assert_same_set(&planner, &set_of(sweep_planner::iam_actions()), "SweepPlannerFunction IAM actions");
    // The planner only lists and sends: no alert, no role, no change anywhere.
    for forbidden in ["sns:Publish", "sts:AssumeRole", "rds:ModifyDBInstance"] {
        assert!(!planner.contains(forbidden), "sweep-planner must not be allowed {forbidden}");
    }
}

#[test]
fn the_worker_consumes_the_sweep_queue_with_partial_batch_failures_and_bounded_concurrency() {
    let template = template();
    let worker = function(&template, "SweepWorkerFunction");
    assert_eq!(at(worker, &["Metadata", "BuildProperties", "Binary"]).as_str(), Some("sweep-worker"));
    let properties = at(worker, &["Properties"]);
    assert_eq!(at(properties, &["ReservedConcurrentExecutions", "Ref"]).as_str(), Some("SweepConcurrency"));
    assert_eq!(at(&template, &["Parameters", "SweepConcurrency", "Default"]).as_u64(), Some(10));
    let event = at(properties, &["Events", "SweepMessages"]);
    assert_eq!(at(event, &["Type"]).as_str(), Some("SQS"));
    assert_eq!(
        at(event, &["Properties", "Queue", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str(),
        Some("SweepQueue")
    );
    assert_eq!(
        strings(at(event, &["Properties", "FunctionResponseTypes"]), "FunctionResponseTypes"),
        set_of(["ReportBatchItemFailures"])
    );
    // Lambda's recommendation: the queue's visibility timeout at least six times the function's.
    let timeout = at(properties, &["Timeout"]).as_u64().unwrap();
    let queue = at(resource(&template, "SweepQueue"), &["Properties"]);
    assert!(at(queue, &["VisibilityTimeout"]).as_u64().unwrap() >= 6 * timeout);
    assert_eq!(
        at(queue, &["RedrivePolicy", "deadLetterTargetArn", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str(),
        Some("SweepDeadLetterQueue")
    );
    let alarm = at(resource(&template, "SweepDeadLetterQueueAlarm"), &["Properties"]);
    let watched = at(&at(alarm, &["Dimensions"]).as_sequence().unwrap()[0], &["Value", "Fn::GetAtt"]);
    assert_eq!(watched.as_sequence().unwrap()[0].as_str(), Some("SweepDeadLetterQueue"));
    assert_eq!(at(&at(alarm, &["AlarmActions"]).as_sequence().unwrap()[0], &["Ref"]).as_str(), Some("AlertTopic"));
    let variables = at(properties, &["Environment", "Variables"]);
    for name in
        ["ALERT_TOPIC_ARN", "MEMBER_ROLE_NAME", "FINDINGS_TABLE", "UNDELIVERED_ALERTS_QUEUE_URL", "ALLOWED_REGIONS"]
    {
        assert!(variables.get(name).is_some(), "SweepWorkerFunction has no {name}");
    }
}

#[test]
fn the_schedule_starts_only_the_planner_and_can_be_disabled() {
    let template = template();
    assert_eq!(at(&template, &["Parameters", "SweepSchedule", "Default"]).as_str(), Some("rate(12 hours)"));
    let schedule = resource(&template, "SweepPlannerSchedule");
    assert_eq!(at(schedule, &["Type"]).as_str(), Some("AWS::Scheduler::Schedule"));
    assert_eq!(at(schedule, &["Condition"]).as_str(), Some("HasSweepSchedule"));
    assert_eq!(at(schedule, &["Properties", "ScheduleExpression", "Ref"]).as_str(), Some("SweepSchedule"));
    let target = at(schedule, &["Properties", "Target"]);
    assert_eq!(at(target, &["Arn", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str(), Some("SweepPlannerFunction"));
    assert_eq!(at(target, &["RoleArn", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str(), Some("SweepScheduleRole"));
    // An empty SweepSchedule removes the schedule and its role.
    let condition = format!("{:?}", at(&template, &["Conditions", "HasSweepSchedule"]));
    assert!(condition.contains("SweepSchedule") && condition.contains("Fn::Not"), "{condition}");
    let role = resource(&template, "SweepScheduleRole");
    assert_eq!(at(role, &["Condition"]).as_str(), Some("HasSweepSchedule"));
    let policies = at(role, &["Properties", "Policies"]).as_sequence().unwrap();
    assert_eq!(policies.len(), 1);
    let statements = at(&policies[0], &["PolicyDocument", "Statement"]).as_sequence().unwrap();
    assert_eq!(statements.len(), 1);
    assert_eq!(strings(at(&statements[0], &["Action"]), "Action"), set_of(["lambda:InvokeFunction"]));
    assert_eq!(
        at(&statements[0], &["Resource", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str(),
        Some("SweepPlannerFunction")
    );
    let trust = format!("{:?}", at(role, &["Properties", "AssumeRolePolicyDocument"]));
    assert!(trust.contains("scheduler.amazonaws.com"), "{trust}");
}

#[test]
fn the_planner_is_configured_as_its_code_reads() {
    let template = template();
    let planner = function(&template, "SweepPlannerFunction");
    assert_eq!(at(planner, &["Metadata", "BuildProperties", "Binary"]).as_str(), Some("sweep-planner"));
    let variables = at(planner, &["Properties", "Environment", "Variables"]);
    assert_eq!(at(variables, &[ENV_SWEEP_QUEUE_URL, "Ref"]).as_str(), Some("SweepQueue"));
    assert_eq!(at(variables, &[ENV_SWEEP_OUS, "Ref"]).as_str(), Some("SweepOus"));
    assert_eq!(at(variables, &[ENV_SWEEP_REGIONS, "Ref"]).as_str(), Some("SweepRegions"));
    assert_eq!(at(variables, &[ENV_ORGANIZATION_ID, "Ref"]).as_str(), Some("OrganizationId"));
}

#[test]
fn deferred_fixes_are_queued_to_an_alarmed_recheck_queue_the_worker_consumes() {
    let template = template();
    let queue = at(resource(&template, "RecheckQueue"), &["Properties"]);
    assert_eq!(
        at(queue, &["RedrivePolicy", "deadLetterTargetArn", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str(),
        Some("RecheckDeadLetterQueue")
    );
    let worker = at(function(&template, "SweepWorkerFunction"), &["Properties"]);
    assert!(at(queue, &["VisibilityTimeout"]).as_u64().unwrap() >= 6 * at(worker, &["Timeout"]).as_u64().unwrap());
    let event = at(worker, &["Events", "RecheckMessages"]);
    assert_eq!(at(event, &["Type"]).as_str(), Some("SQS"));
    assert_eq!(
        at(event, &["Properties", "Queue", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str(),
        Some("RecheckQueue")
    );
    assert_eq!(
        strings(at(event, &["Properties", "FunctionResponseTypes"]), "FunctionResponseTypes"),
        set_of(["ReportBatchItemFailures"])
    );
    let alarm = at(resource(&template, "RecheckDeadLetterQueueAlarm"), &["Properties"]);
    let watched = at(&at(alarm, &["Dimensions"]).as_sequence().unwrap()[0], &["Value", "Fn::GetAtt"]);
    assert_eq!(watched.as_sequence().unwrap()[0].as_str(), Some("RecheckDeadLetterQueue"));
    assert_eq!(at(&at(alarm, &["AlarmActions"]).as_sequence().unwrap()[0], &["Ref"]).as_str(), Some("AlertTopic"));
    assert_eq!(at(&template, &["Parameters", "RecheckMaxAttempts", "Default"]).as_u64(), Some(8));
    assert_eq!(
        at(worker, &["Environment", "Variables", rdsguard::recheck::ENV_RECHECK_MAX_ATTEMPTS, "Ref"]).as_str(),
        Some("RecheckMaxAttempts")
    );
    // Every function that can alert `deferred` sends its re-checks there, and may send nowhere else
    // but its dead-letter queue.
    for producer in ["RdsGuardFunction", "NetworkGuardFunction", "GuardDutyResponderFunction", "SweepWorkerFunction"] {
        let properties = at(function(&template, producer), &["Properties"]);
        let url = at(properties, &["Environment", "Variables", rdsguard::recheck::ENV_RECHECK_QUEUE_URL, "Ref"]);
        assert_eq!(url.as_str(), Some("RecheckQueue"), "{producer}");
        let sends: BTreeSet<String> = function_statements(&template, producer)
            .iter()
            .filter(|s| strings(at(s, &["Action"]), "Action").contains("sqs:SendMessage"))
            .map(|s| at(s, &["Resource", "Fn::GetAtt"]).as_sequence().unwrap()[0].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(sends, set_of(["DeadLetterQueue", "RecheckQueue"]), "{producer}");
    }
}

#[test]
fn the_dashboard_shows_only_metrics_the_code_emits_and_every_dead_letter_queue() {
    let template = template();
    let dashboard = resource(&template, "Dashboard");
    assert_eq!(at(dashboard, &["Type"]).as_str(), Some("AWS::CloudWatch::Dashboard"));
    let body = at(dashboard, &["Properties", "DashboardBody", "Fn::Sub"]).as_str().expect("a Fn::Sub string");
    // The placeholders CloudFormation fills in are all strings inside the JSON.
    let placeholders: BTreeSet<String> =
        body.split("${").skip(1).map(|s| s[..s.find('}').unwrap()].to_owned()).collect();
    assert_eq!(
        placeholders,
        set_of([
            "AWS::Region",
            "DeadLetterQueue.QueueName",
            "SweepDeadLetterQueue.QueueName",
            "RecheckDeadLetterQueue.QueueName"
        ])
    );
    let parsed: serde_json::Value = serde_json::from_str(body).expect("the dashboard body is JSON");
    let emitted = set_of(rdsguard::metrics::metric_names());
    let mut shown = BTreeSet::new();
    for widget in parsed["widgets"].as_array().unwrap() {
        for line in widget["properties"]["metrics"].as_array().unwrap() {
            let line = line.as_array().unwrap();
            if line[0] == rdsguard::metrics::NAMESPACE {
                shown.insert(line[1].as_str().unwrap().to_owned());
            }
            if let Some(expression) = line[0]["expression"].as_str() {
                for part in expression.split("MetricName=\"").skip(1) {
                    shown.insert(part[..part.find('"').unwrap()].to_owned());
                }
            }
        }
    }
    let unknown: Vec<&String> = shown.difference(&emitted).collect();
    assert!(unknown.is_empty(), "the dashboard shows metrics nothing emits: {unknown:?}");
    for needed in [
        "EventsSeen",
        "FindingsCritical",
        "FindingsInformational",
        "RemediationsSucceeded",
        "RemediationsDeferred",
        "Errors",
        rdsguard::metrics::ACCOUNT_REGIONS_DUE,
        rdsguard::metrics::ACCOUNT_REGIONS_SWEPT,
    ] {
        assert!(shown.contains(needed), "the dashboard lacks {needed}");
    }
}
