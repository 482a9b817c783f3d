//! Hostile variants of real events: a [`Case`] names a fixture, up to four structural mutations
//! (drop a field, null it or everything under it, swap its type, unicode and oversized strings,
//! deep nesting, numbers at their limits, re-cased keys, fields injected from the event formats,
//! subtrees grafted from other events) and, sometimes, a mutation of the serialised bytes (cut,
//! flipped, invalid UTF-8, nesting past the parser's depth limit, a duplicated key). Every part of
//! a case is a small number so proptest generates cases cheaply and shrinks a failure to a minimal
//! one.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// One structural mutation; the first number of each picks a node of the document (pre-order,
/// modulo the node count).
#[derive(Debug, Clone)]
pub enum Mutation {
    Drop(usize),
    Null(usize),
    NullEverything(usize),
    SwapType(usize, u8),
    Unicode(usize, u8, u8),
    Oversized(usize, u8, u32),
    Nest(usize, u8),
    NumberLimit(usize, u8),
    RecaseKeys(usize, u8),
    Inject(usize, u8, u16),
    Replace(usize, u16),
    Graft(usize, u16, usize),
}

/// A mutation of the serialised document.
#[derive(Debug, Clone)]
pub enum Bytes {
    Untouched,
    Truncate(usize),
    Flip(usize, u8),
    InvalidUtf8(usize, u8),
    DeepRaw(u16),
    DuplicateKey(u8, u16),
}

#[derive(Debug, Clone)]
pub struct Case {
    pub fixture: usize,
    pub mutations: Vec<Mutation>,
    pub bytes: Bytes,
}

/// Multi-byte, combining, bidirectional, case-changing and control characters; strings whose
/// first bytes look like what parsers test for.
const UNICODE: &[&str] = &[
    "ééé",
    "RDSé",
    "ÉRDS",
    "R\u{301}DS",
    "🦀🦀",
    "\u{202e}SDR",
    "\u{0}",
    "\u{feff}sg-0123456789abcdef0",
    "ｒｄｓ",
    "İİ",
    "ß",
    "\u{10ffff}",
    "arn:aws:rds:üs-east-1:123456789012:db:é",
    "ǅ",
    "\u{7f}\u{1b}[31m",
    "日本語のデータベース",
];

const FILLERS: &[&str] = &["A", "é", "🦀", "\u{0}", "0", ":", "/"];

/// Keys of the formats the functions read, to inject where they are not.
const KEYS: &[&str] = &[
    "detail-type",
    "detail",
    "source",
    "account",
    "region",
    "id",
    "time",
    "eventName",
    "eventSource",
    "eventID",
    "awsRegion",
    "recipientAccountId",
    "userIdentity",
    "errorCode",
    "errorMessage",
    "requestParameters",
    "responseElements",
    "type",
    "severity",
    "resource",
    "resourceType",
    "service",
    "schemaVersion",
    "accountId",
    "SourceIdentifier",
    "SourceArn",
    "EventID",
    "EventCategories",
    "ResponseURL",
    "RequestType",
    "StackId",
    "RequestId",
    "LogicalResourceId",
    "PhysicalResourceId",
    "dBInstanceIdentifier",
    "newDBInstanceIdentifier",
    "dBClusterIdentifier",
    "dBSnapshotIdentifier",
    "dBParameterGroupName",
    "parameters",
    "groupId",
    "groupName",
    "ipPermissions",
    "items",
    "vpcSecurityGroupIds",
    "ModifySecurityGroupRulesRequest",
    "name",
    "trailName",
    "detectorId",
    "enable",
    "features",
    "rule",
    "eventBusName",
    "policyId",
    "policyType",
    "rootId",
    "resourceId",
    "sourceParentId",
    "destinationParentId",
    "rdsDbInstanceDetails",
    "rdsLimitlessDbDetails",
    "dbInstanceIdentifier",
    "action",
    "rdsLoginAttemptAction",
    "remoteIpDetails",
    "additionalInfo",
    "count",
];

/// Strings that steer a parser down its branches, besides every string of the fixtures.
pub const STEERING: &[&str] = &[
    "AWS API Call via CloudTrail",
    "RDS DB Instance Event",
    "RDS DB Cluster Event",
    "GuardDuty Finding",
    "Scheduled Event",
    "aws.rds",
    "aws.ec2",
    "aws.cloudtrail",
    "aws.guardduty",
    "aws.events",
    "aws.organizations",
    "rds.amazonaws.com",
    "ec2.amazonaws.com",
    "cloudtrail.amazonaws.com",
    "guardduty.amazonaws.com",
    "events.amazonaws.com",
    "organizations.amazonaws.com",
    "123456789012",
    "us-east-1",
    "cn-north-1",
    "us-gov-west-1",
    "Create",
    "Update",
    "Delete",
    "SERVICE_CONTROL_POLICY",
    "p-abcd1234",
    "r-ab12",
    "ou-ab12-11111111",
    "sg-0123456789abcdef0",
    "sg-01234567",
    "rdsguard-rule",
    "arn:aws:cloudtrail:us-east-2:210987654321:trail/org-trail",
    "arn:aws:cloudtrail:",
    "arn:aws:rds:eu-west-1:111122223333:db:db1",
    "rds:db1",
    "DISABLED",
    "false",
    "true",
    "0.0.0.0/0",
    "::/0",
    "-1",
    "rds.force_ssl",
    "require_secure_transport",
    "CredentialAccess:RDS/TorIPCaller.SuccessfulLogin",
    "RDSDBInstance",
    "RDSLimitlessDB",
    "notification",
    "http://127.0.0.1:1/response",
];

fn selector() -> impl Strategy<Value = usize> {
    any::<usize>()
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        selector().prop_map(Mutation::Drop),
        selector().prop_map(Mutation::Null),
        selector().prop_map(Mutation::NullEverything),
        (selector(), any::<u8>()).prop_map(|(n, k)| Mutation::SwapType(n, k)),
        (selector(), any::<u8>(), any::<u8>()).prop_map(|(n, s, m)| Mutation::Unicode(n, s, m)),
        (selector(), any::<u8>(), 1_000_u32..40_000).prop_map(|(n, f, len)| Mutation::Oversized(n, f, len)),
        (selector(), 1_u8..=140).prop_map(|(n, d)| Mutation::Nest(n, d)),
        (selector(), any::<u8>()).prop_map(|(n, k)| Mutation::NumberLimit(n, k)),
        (selector(), any::<u8>()).prop_map(|(n, m)| Mutation::RecaseKeys(n, m)),
        (selector(), any::<u8>(), any::<u16>()).prop_map(|(n, k, v)| Mutation::Inject(n, k, v)),
        (selector(), any::<u16>()).prop_map(|(n, v)| Mutation::Replace(n, v)),
        (selector(), any::<u16>(), selector()).prop_map(|(n, f, m)| Mutation::Graft(n, f, m)),
    ]
}

fn bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        12 => Just(Bytes::Untouched),
        1 => any::<usize>().prop_map(Bytes::Truncate),
        1 => (any::<usize>(), 1_u8..=255).prop_map(|(at, bits)| Bytes::Flip(at, bits)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Bytes::InvalidUtf8(at, b)),
        1 => (100_u16..3_000).prop_map(Bytes::DeepRaw),
        1 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Bytes::DuplicateKey(k, v)),
    ]
}

/// Cases over `fixtures` documents.
pub fn case(fixtures: usize) -> impl Strategy<Value = Case> {
    (0..fixtures, prop::collection::vec(mutation(), 1..=4), bytes()).prop_map(|(fixture, mutations, bytes)| Case {
        fixture,
        mutations,
        bytes,
    })
}

/// The corpus a case is drawn from: the documents and every string in them.
pub struct Corpus {
    pub names: Vec<String>,
    pub documents: Vec<Value>,
    strings: Vec<String>,
}

impl Corpus {
    pub fn new(named: Vec<(String, Value)>) -> Self {
        let mut strings: Vec<String> = STEERING.iter().map(|s| (*s).to_owned()).collect();
        for (_, document) in &named {
            collect_strings(document, &mut strings);
        }
        strings.sort();
        strings.dedup();
        let (names, documents) = named.into_iter().unzip();
        Self { names, documents, strings }
    }

    fn string(&self, index: u16) -> String {
        self.strings[usize::from(index) % self.strings.len()].clone()
    }

    /// The bytes of `case`: the fixture, mutated, serialised, then byte-mutated.
    pub fn bytes_of(&self, case: &Case) -> Vec<u8> {
        let mut document = self.documents[case.fixture % self.documents.len()].clone();
        for mutation in &case.mutations {
            self.apply(&mut document, mutation);
        }
        let mut bytes = serde_json::to_vec(&document).unwrap_or_default();
        mutate_bytes(&mut bytes, &case.bytes, |i| self.string(i));
        bytes
    }

    fn apply(&self, document: &mut Value, mutation: &Mutation) {
        let nodes = paths(document);
        let pick = |n: usize| &nodes[n % nodes.len()];
        match *mutation {
            Mutation::Drop(n) => drop_at(document, pick(n)),
            Mutation::Null(n) => set(document, pick(n), |_| Value::Null),
            Mutation::NullEverything(n) => set(document, pick(n), |v| null_leaves(v.clone())),
            Mutation::SwapType(n, kind) => set(document, pick(n), |v| swap_type(v, kind)),
            Mutation::Unicode(n, which, mode) => set(document, pick(n), |v| {
                let text = UNICODE[usize::from(which) % UNICODE.len()];
                match (v, mode % 4) {
                    (Value::String(s), 0) => Value::String(format!("{text}{s}")),
                    (Value::String(s), 1) => Value::String(format!("{s}{text}")),
                    (Value::String(s), 2) => {
                        let middle = s.char_indices().nth(s.chars().count() / 2).map_or(s.len(), |(i, _)| i);
                        Value::String(format!("{}{text}{}", &s[..middle], &s[middle..]))
                    }
                    _ => Value::String(text.to_owned()),
                }
            }),
            Mutation::Oversized(n, filler, len) => set(document, pick(n), |v| {
                let filler = FILLERS[usize::from(filler) % FILLERS.len()];
                let prefix = v.as_str().unwrap_or_default();
                Value::String(format!("{prefix}{}", filler.repeat(len as usize)))
            }),
            Mutation::Nest(n, depth) => set(document, pick(n), |v| {
                let mut nested = v.clone();
                for level in 0..depth {
                    nested = if level % 2 == 0 { json!([nested]) } else { json!({"nested": nested}) };
                }
                nested
            }),
            Mutation::NumberLimit(n, which) => set(document, pick(n), |_| number_limit(which)),
            Mutation::RecaseKeys(n, mode) => set(document, pick(n), |v| recase(v, mode)),
            Mutation::Inject(n, key, value) => set(document, pick(n), |v| {
                let mut v = v.clone();
                if let Value::Object(map) = &mut v {
                    map.insert(KEYS[usize::from(key) % KEYS.len()].to_owned(), Value::String(self.string(value)));
                }
                v
            }),
            Mutation::Replace(n, value) => set(document, pick(n), |_| Value::String(self.string(value))),
            Mutation::Graft(n, fixture, node) => {
                let donor = &self.documents[usize::from(fixture) % self.documents.len()];
                let donor_paths = paths(donor);
                let subtree = get(donor, &donor_paths[node % donor_paths.len()]).cloned().unwrap_or(Value::Null);
                set(document, pick(n), |_| subtree.clone());
            }
        }
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            collect_strings(v, out);
        }),
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// Every node's path, pre-order, the root first.
fn paths(document: &Value) -> Vec<Vec<Step>> {
    fn walk(value: &Value, path: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
        out.push(path.clone());
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk(item, path, out);
                    path.pop();
                }
            }
            Value::Object(map) => {
                for (key, item) in map {
                    path.push(Step::Key(key.clone()));
                    walk(item, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(document, &mut Vec::new(), &mut out);
    out
}

fn get<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(k) => node.get(k.as_str()),
        Step::Index(i) => node.get(*i),
    })
}

fn get_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |node, step| match step {
        Step::Key(k) => node.get_mut(k.as_str()),
        Step::Index(i) => node.get_mut(*i),
    })
}

fn set(document: &mut Value, path: &[Step], change: impl FnOnce(&Value) -> Value) {
    if let Some(node) = get_mut(document, path) {
        *node = change(node);
    }
}

fn drop_at(document: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        *document = Value::Null;
        return;
    };
    match (get_mut(document, parent), last) {
        (Some(Value::Object(map)), Step::Key(k)) => {
            map.remove(k);
        }
        (Some(Value::Array(items)), Step::Index(i)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

fn null_leaves(value: Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(null_leaves).collect()),
        Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (k, null_leaves(v))).collect()),
        _ => Value::Null,
    }
}

fn swap_type(value: &Value, kind: u8) -> Value {
    match kind % 8 {
        0 => Value::String(match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        1 => match value {
            Value::String(s) => s.trim().parse::<f64>().ok().map_or(json!(s.len()), |n| json!(n)),
            Value::Bool(b) => json!(u8::from(*b)),
            Value::Array(items) => json!(items.len()),
            _ => json!(0),
        },
        2 => Value::Bool(!value.is_null()),
        3 => json!([value]),
        4 => json!({ "value": value }),
        5 => Value::Object(Map::new()),
        6 => Value::Array(Vec::new()),
        _ => match value {
            Value::Object(map) => Value::Array(map.values().cloned().collect()),
            Value::Array(items) => {
                Value::Object(items.iter().enumerate().map(|(i, v)| (i.to_string(), v.clone())).collect())
            }
            _ => Value::String(String::new()),
        },
    }
}

fn number_limit(which: u8) -> Value {
    let limits = [
        json!(i64::MIN),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(0),
        json!(-1),
        json!(f64::MAX),
        json!(-f64::MAX),
        json!(f64::MIN_POSITIVE),
        json!(5e-324),
        json!(9_007_199_254_740_993_u64),
        json!(-0.0),
        json!(i32::MAX as i64 + 1),
        json!(65_536),
        json!("NaN"),
        json!("inf"),
        json!("-inf"),
        json!("1e999"),
        json!("-0"),
        json!("18446744073709551616"),
        json!("0x10"),
        json!(" 42 "),
        json!(""),
    ];
    limits[usize::from(which) % limits.len()].clone()
}

fn recase(value: &Value, mode: u8) -> Value {
    let Value::Object(map) = value else { return value.clone() };
    let rename = |key: &str| -> String {
        match mode % 5 {
            0 => key.to_uppercase(),
            1 => key.to_lowercase(),
            2 => {
                let mut chars = key.chars();
                chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
            }
            3 => format!(" {key} "),
            _ => format!("{key}\u{0}"),
        }
    };
    // Keep the original keys too: case-insensitive lookups then see two candidates.
    let mut out = map.clone();
    for (key, item) in map {
        out.insert(rename(key), item.clone());
    }
    Value::Object(out)
}

fn mutate_bytes(bytes: &mut Vec<u8>, mutation: &Bytes, string: impl Fn(u16) -> String) {
    let len = bytes.len().max(1);
    match *mutation {
        Bytes::Untouched => {}
        Bytes::Truncate(at) => bytes.truncate(at % len),
        Bytes::Flip(at, bits) => {
            if let Some(b) = bytes.get_mut(at % len) {
                *b ^= bits;
            }
        }
        Bytes::InvalidUtf8(at, which) => {
            let bad: &[u8] =
                [&[0xff][..], &[0xc3], &[0xed, 0xa0, 0x80], &[0xf4, 0x90, 0x80, 0x80], &[0x80]][usize::from(which) % 5];
            let at = (at % len).min(bytes.len());
            bytes.splice(at..at, bad.iter().copied());
        }
        Bytes::DeepRaw(depth) => {
            let depth = usize::from(depth);
            let mut deep = Vec::with_capacity(bytes.len() + 2 * depth);
            deep.extend(std::iter::repeat_n(b'[', depth));
            deep.append(bytes);
            deep.extend(std::iter::repeat_n(b']', depth));
            *bytes = deep;
        }
        Bytes::DuplicateKey(key, value) => {
            if bytes.first() == Some(&b'{') {
                let key = KEYS[usize::from(key) % KEYS.len()];
                let pair = format!("{}:{},", json!(key), json!(string(value)));
                // `{}` takes the pair without the comma.
                let pair = if bytes.get(1) == Some(&b'}') { pair.trim_end_matches(',').to_owned() } else { pair };
                bytes.splice(1..1, pair.into_bytes());
            }
        }
    }
}
