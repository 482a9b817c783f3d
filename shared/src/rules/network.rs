//! Network rules over the ingress rules of a security group:
//! - `EC2.19`: the source is the whole internet (any /0: `0.0.0.0/0`, `::/0`) and the rule admits
//!   a database port; or, judged on the union of the group's sources on a port
//!   ([`evaluate_group_ingress`]), CIDR rules that together cover all of IPv4 (or all of IPv6) on a
//!   database port (`0.0.0.0/1` + `128.0.0.0/1`) are each a violation;
//! - `RDSGUARD.SG_SOURCE`: with `ALLOWED_CIDRS` set, the source is an address range outside all of
//!   them and the rule admits a database port.
//!
//! "A database port" is the port a database using the group listens on; when no database uses the
//! group, any of [`WELL_KNOWN_DATABASE_PORTS`]. A rule for all traffic (protocol `-1`) admits every
//! port. Sources inside `ALLOWED_CIDRS` and other security groups are never violations.

use ipnet::IpNet;
use serde_json::{json, Value};

use super::{RuleId, Verdict};
use crate::network::{IngressRule, RuleSource};

/// Ports judged when no database is known to use the group: SQL Server (1433, 1434 browser),
/// Oracle (1521, 2483, 2484 TLS), MySQL/MariaDB/Aurora MySQL (3306), PostgreSQL/Aurora PostgreSQL
/// (5432), Redshift (5439), Redis (6379), MongoDB/DocumentDB (27017, 27018).
pub const WELL_KNOWN_DATABASE_PORTS: &[u16] = &[1433, 1434, 1521, 2483, 2484, 3306, 5432, 5439, 6379, 27017, 27018];

/// The ports a group's rules are judged against, and why those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabasePorts {
    /// The ports the databases using the group listen on.
    Listening(Vec<u16>),
    /// No database is known to use the group: the well-known database ports.
    WellKnown,
}

impl DatabasePorts {
    /// From the ports of the databases that use the group (empty: none known).
    pub fn from_listening(ports: impl IntoIterator<Item = u16>) -> Self {
        let mut ports: Vec<u16> = ports.into_iter().collect();
        ports.sort_unstable();
        ports.dedup();
        if ports.is_empty() {
            Self::WellKnown
        } else {
            Self::Listening(ports)
        }
    }

    pub fn ports(&self) -> &[u16] {
        match self {
            Self::Listening(ports) => ports,
            Self::WellKnown => WELL_KNOWN_DATABASE_PORTS,
        }
    }

    pub fn basis(&self) -> &'static str {
        match self {
            Self::Listening(_) => "ports of the databases using the group",
            Self::WellKnown => "well-known database ports (no database uses the group)",
        }
    }
}

/// Which of `ports` an ingress rule admits, or why it cannot be told.
fn admitted_ports(rule: &IngressRule, ports: &[u16]) -> Result<Vec<u16>, Verdict> {
    match rule.protocol.trim().to_ascii_lowercase().as_str() {
        "-1" | "all" => Ok(ports.to_vec()),
        "tcp" | "6" => {
            let (Some(from), Some(to)) = (rule.from_port, rule.to_port) else {
                return Err(Verdict::Unknown("tcp rule without a port range"));
            };
            // EC2 reports -1 for "all ports" on some rules; treat it as the full range.
            let (from, to) = if from < 0 || to < 0 { (0, 65535) } else { (from, to) };
            Ok(ports.iter().copied().filter(|p| (from..=to).contains(&i32::from(*p))).collect())
        }
        "" => Err(Verdict::Unknown("rule has no protocol")),
        _ => Err(Verdict::NotApplicable("databases listen on TCP; this rule admits another protocol")),
    }
}

/// Judges one ingress rule against both network rules. `allowed_cidrs` empty: RDSGUARD.SG_SOURCE
/// is off (reported as not applicable).
pub fn evaluate_ingress(rule: &IngressRule, ports: &DatabasePorts, allowed_cidrs: &[IpNet]) -> [(RuleId, Verdict); 2] {
    let open =
        |verdict: Verdict| [(RuleId::Ec2_19OpenToInternet, verdict.clone()), (RuleId::SgSourceNotAllowed, verdict)];
    let net = match &rule.source {
        RuleSource::Cidr(net) => *net,
        RuleSource::SecurityGroup(_) => return open(Verdict::Compliant),
        RuleSource::PrefixList(_) => return open(Verdict::NotApplicable("prefix list entries are not judged")),
        RuleSource::Unreadable(_) => return open(Verdict::Unknown("rule source could not be read")),
    };
    let allowed = allowed_cidrs.iter().any(|a| a.contains(&net));
    let whole_internet = net.prefix_len() == 0;
    let admitted = match admitted_ports(rule, ports.ports()) {
        Ok(admitted) => admitted,
        Err(verdict) => return open(verdict),
    };
    let evidence = || {
        json!({
            "rule": rule.to_json(),
            "database_ports_admitted": admitted,
            "database_ports_judged": ports.ports(),
            "ports_basis": ports.basis(),
        })
    };
    let violation = |applies: bool| -> Verdict {
        if !applies || admitted.is_empty() {
            Verdict::Compliant
        } else {
            Verdict::Violation(evidence())
        }
    };

    let internet = if allowed { Verdict::Compliant } else { violation(whole_internet) };
    let unlisted = if allowed_cidrs.is_empty() {
        Verdict::NotApplicable("ALLOWED_CIDRS is not set")
    } else if whole_internet {
        // Reported once, as EC2.19.
        Verdict::Compliant
    } else {
        violation(!allowed)
    };
    [(RuleId::Ec2_19OpenToInternet, internet), (RuleId::SgSourceNotAllowed, unlisted)]
}

/// Judges every ingress rule of one group: [`evaluate_ingress`] on each rule, then EC2.19 on the
/// union of the group's sources per database port. When the CIDR sources that admit a port
/// together cover all of IPv4 (or all of IPv6), the widest of them that are needed to cover it —
/// taken widest first until the union is whole, and again while what is left would still be
/// whole — are each an EC2.19 violation for that port; narrower ranges the others already cover
/// (a private `10.0.0.0/16` beside `0.0.0.0/1` + `128.0.0.0/1`) stay compliant, so revoking the
/// violations leaves no whole-internet union behind and nothing more.
///
/// `ALLOWED_CIDRS`: a source inside a listed range is never a violation itself (as for a single
/// rule), but it still counts towards the union: `203.0.113.0/24` listed plus rules covering the
/// rest of IPv4 is the whole internet, and the unlisted rules are the violations. Listing
/// `0.0.0.0/0` (or `::/0`) allows everything in that family, so no union there is a violation.
/// A rule caught only by the union is reported as EC2.19, not also as RDSGUARD.SG_SOURCE.
///
/// One result per rule, in the order given.
pub fn evaluate_group_ingress(
    rules: &[IngressRule],
    ports: &DatabasePorts,
    allowed_cidrs: &[IpNet],
) -> Vec<[(RuleId, Verdict); 2]> {
    let mut verdicts: Vec<[(RuleId, Verdict); 2]> =
        rules.iter().map(|rule| evaluate_ingress(rule, ports, allowed_cidrs)).collect();
    // Per rule: the database ports on which it is part of a whole-internet union.
    let mut union_ports: Vec<Vec<u16>> = vec![Vec::new(); rules.len()];
    for &port in ports.ports() {
        let sources: Vec<(usize, IpNet)> = rules
            .iter()
            .enumerate()
            .filter_map(|(i, rule)| match &rule.source {
                RuleSource::Cidr(net) => Some((i, net.trunc())),
                _ => None,
            })
            .filter(|(i, _)| admitted_ports(&rules[*i], &[port]).is_ok_and(|p| !p.is_empty()))
            .collect();
        for i in whole_internet_contributors(&sources, allowed_cidrs) {
            union_ports[i].push(port);
        }
    }
    for (i, ports_in_union) in union_ports.into_iter().enumerate() {
        if ports_in_union.is_empty() || matches!(verdicts[i][0].1, Verdict::Violation(_)) {
            continue;
        }
        let rule = &rules[i];
        let sources_in_union: Vec<String> = union_members(rules, &ports_in_union);
        let evidence = json!({
            "rule": rule.to_json(),
            "database_ports_admitted": ports_in_union,
            "database_ports_judged": ports.ports(),
            "ports_basis": ports.basis(),
            "whole_internet_by_union": sources_in_union,
        });
        verdicts[i] = [
            (RuleId::Ec2_19OpenToInternet, Verdict::Violation(evidence)),
            // Reported once, as EC2.19.
            (
                RuleId::SgSourceNotAllowed,
                if allowed_cidrs.is_empty() {
                    Verdict::NotApplicable("ALLOWED_CIDRS is not set")
                } else {
                    Verdict::Compliant
                },
            ),
        ];
    }
    verdicts
}

/// The CIDR sources (any family) of the rules that admit one of `ports`, for the evidence.
fn union_members(rules: &[IngressRule], ports: &[u16]) -> Vec<String> {
    rules
        .iter()
        .filter(|rule| matches!(rule.source, RuleSource::Cidr(_)))
        .filter(|rule| admitted_ports(rule, ports).is_ok_and(|p| !p.is_empty()))
        .map(|rule| rule.source.describe())
        .collect()
}

/// Rule indexes with their (truncated) source networks.
type Sources = Vec<(usize, IpNet)>;

/// Which of `sources` (rule index, network) are violations because the sources together cover a
/// whole address family (see [`evaluate_group_ingress`]). A /0 alone is judged by
/// [`evaluate_ingress`]; it is skipped here unless other sources are needed beside it (never).
fn whole_internet_contributors(sources: &[(usize, IpNet)], allowed_cidrs: &[IpNet]) -> Vec<usize> {
    let is_allowed = |net: &IpNet| allowed_cidrs.iter().any(|a| a.contains(net));
    let whole = |nets: &[IpNet], v4: bool| {
        IpNet::aggregate(&nets.to_vec()).iter().any(|n| n.prefix_len() == 0 && matches!(n, IpNet::V4(_)) == v4)
    };
    let mut flagged = Vec::new();
    for v4 in [true, false] {
        // A family listed whole in ALLOWED_CIDRS is allowed whole.
        if allowed_cidrs.iter().any(|a| a.prefix_len() == 0 && matches!(a, IpNet::V4(_)) == v4) {
            continue;
        }
        let mut family: Vec<(usize, IpNet)> =
            sources.iter().copied().filter(|(_, n)| matches!(n, IpNet::V4(_)) == v4).collect();
        // Widest first; the rule order breaks ties (stable sort).
        family.sort_by_key(|(_, n)| n.prefix_len());
        let nets = |list: &[(usize, IpNet)]| list.iter().map(|(_, n)| *n).collect::<Vec<_>>();
        while whole(&nets(&family), v4) {
            // The widest sources until they alone are whole.
            let mut chosen = Vec::new();
            let mut taken = 0;
            for (_, net) in &family {
                chosen.push(*net);
                taken += 1;
                if whole(&chosen, v4) {
                    break;
                }
            }
            // The unlisted ones among them are violations (a /0 is one already, on its own);
            // listed ones count towards the union but stay. Then again on what is left, so the
            // rules that remain are not whole either.
            let (removed, listed): (Sources, Sources) =
                family[..taken].iter().copied().partition(|(_, n)| !is_allowed(n));
            if removed.is_empty() {
                break;
            }
            flagged.extend(removed.iter().filter(|(_, n)| n.prefix_len() > 0).map(|(i, _)| *i));
            let mut rest: Vec<(usize, IpNet)> = listed;
            rest.extend_from_slice(&family[taken..]);
            rest.sort_by_key(|(_, n)| n.prefix_len());
            family = rest;
        }
    }
    flagged.sort_unstable();
    flagged.dedup();
    flagged
}

/// The offending ports of a violation's evidence (for alert subjects and summaries).
pub fn admitted_from_evidence(observed: &Value) -> Vec<u16> {
    observed
        .get("database_ports_admitted")
        .and_then(Value::as_array)
        .map(|ports| ports.iter().filter_map(Value::as_u64).filter_map(|p| u16::try_from(p).ok()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(protocol: &str, from: Option<i32>, to: Option<i32>, source: RuleSource) -> IngressRule {
        IngressRule {
            rule_id: "sgr-1".into(),
            group_id: "sg-1".into(),
            protocol: protocol.into(),
            from_port: from,
            to_port: to,
            source,
            description: None,
        }
    }

    fn cidr(raw: &str) -> RuleSource {
        RuleSource::from_cidr(raw)
    }

    fn nets(raw: &[&str]) -> Vec<IpNet> {
        raw.iter().map(|s| s.parse().unwrap()).collect()
    }

    /// `V` violation, `C` compliant, `N` not applicable, `U` unknown.
    fn letter(verdict: &Verdict) -> char {
        match verdict {
            Verdict::Violation(_) => 'V',
            Verdict::Compliant => 'C',
            Verdict::NotApplicable(_) => 'N',
            Verdict::Unknown(_) => 'U',
        }
    }

    #[test]
    fn ingress_rules_table() {
        let postgres = DatabasePorts::from_listening([5432]);
        let odd_port = DatabasePorts::from_listening([6543]);
        let none = DatabasePorts::from_listening([]);
        let office: &[&str] = &["203.0.113.0/24", "2001:db8::/32"];
        /// (name, rule, ports, allowed cidrs, EC2.19, SG_SOURCE)
        type Case<'a> = (&'a str, IngressRule, &'a DatabasePorts, &'a [&'a str], char, char);
        let cases: Vec<Case> = vec![
            (
                "v4 world on the db port",
                rule("tcp", Some(5432), Some(5432), cidr("0.0.0.0/0")),
                &postgres,
                &[],
                'V',
                'N',
            ),
            ("v6 world on the db port", rule("tcp", Some(5432), Some(5432), cidr("::/0")), &postgres, &[], 'V', 'N'),
            ("any /0 is the world", rule("tcp", Some(5432), Some(5432), cidr("10.0.0.0/0")), &postgres, &[], 'V', 'N'),
            ("range covering the port", rule("tcp", Some(0), Some(65535), cidr("0.0.0.0/0")), &postgres, &[], 'V', 'N'),
            ("range -1..-1 on tcp", rule("tcp", Some(-1), Some(-1), cidr("0.0.0.0/0")), &postgres, &[], 'V', 'N'),
            ("range beside the port", rule("tcp", Some(5433), Some(6000), cidr("0.0.0.0/0")), &postgres, &[], 'C', 'N'),
            ("all traffic", rule("-1", None, None, cidr("0.0.0.0/0")), &postgres, &[], 'V', 'N'),
            ("all traffic, no database", rule("-1", None, None, cidr("::/0")), &none, &[], 'V', 'N'),
            ("protocol number 6", rule("6", Some(5432), Some(5432), cidr("0.0.0.0/0")), &postgres, &[], 'V', 'N'),
            ("udp on the port", rule("udp", Some(5432), Some(5432), cidr("0.0.0.0/0")), &postgres, &[], 'N', 'N'),
            ("icmp", rule("icmp", Some(-1), Some(-1), cidr("0.0.0.0/0")), &postgres, &[], 'N', 'N'),
            (
                "a /24 is not the world",
                rule("tcp", Some(5432), Some(5432), cidr("10.0.0.0/24")),
                &postgres,
                &[],
                'C',
                'N',
            ),
            ("a /1 is not the world", rule("tcp", Some(5432), Some(5432), cidr("0.0.0.0/1")), &postgres, &[], 'C', 'N'),
            ("non-default db port", rule("tcp", Some(6543), Some(6543), cidr("0.0.0.0/0")), &odd_port, &[], 'V', 'N'),
            (
                "default port, db elsewhere",
                rule("tcp", Some(5432), Some(5432), cidr("0.0.0.0/0")),
                &odd_port,
                &[],
                'C',
                'N',
            ),
            ("no db, well-known 3306", rule("tcp", Some(3306), Some(3306), cidr("0.0.0.0/0")), &none, &[], 'V', 'N'),
            ("no db, redis", rule("tcp", Some(6379), Some(6379), cidr("::/0")), &none, &[], 'V', 'N'),
            ("no db, mongo", rule("tcp", Some(27018), Some(27018), cidr("0.0.0.0/0")), &none, &[], 'V', 'N'),
            ("no db, https", rule("tcp", Some(443), Some(443), cidr("0.0.0.0/0")), &none, &[], 'C', 'N'),
            ("no db, ssh", rule("tcp", Some(22), Some(22), cidr("0.0.0.0/0")), &none, &[], 'C', 'N'),
            (
                "security group source",
                rule("tcp", Some(5432), Some(5432), RuleSource::SecurityGroup("sg-app".into())),
                &postgres,
                office,
                'C',
                'C',
            ),
            (
                "prefix list source",
                rule("tcp", Some(5432), Some(5432), RuleSource::PrefixList("pl-1".into())),
                &postgres,
                office,
                'N',
                'N',
            ),
            ("unreadable source", rule("tcp", Some(5432), Some(5432), cidr("nonsense")), &postgres, &[], 'U', 'U'),
            ("tcp without ports", rule("tcp", None, None, cidr("0.0.0.0/0")), &postgres, &[], 'U', 'U'),
            (
                "office range, listed",
                rule("tcp", Some(5432), Some(5432), cidr("203.0.113.0/25")),
                &postgres,
                office,
                'C',
                'C',
            ),
            (
                "v6 office range, listed",
                rule("tcp", Some(5432), Some(5432), cidr("2001:db8:5::/48")),
                &postgres,
                office,
                'C',
                'C',
            ),
            (
                "unlisted range",
                rule("tcp", Some(5432), Some(5432), cidr("198.51.100.0/24")),
                &postgres,
                office,
                'C',
                'V',
            ),
            (
                "wider than the listed range",
                rule("tcp", Some(5432), Some(5432), cidr("203.0.0.0/16")),
                &postgres,
                office,
                'C',
                'V',
            ),
            (
                "unlisted range, other port",
                rule("tcp", Some(443), Some(443), cidr("198.51.100.0/24")),
                &postgres,
                office,
                'C',
                'C',
            ),
            (
                "world with a list: EC2.19 only",
                rule("tcp", Some(5432), Some(5432), cidr("0.0.0.0/0")),
                &postgres,
                office,
                'V',
                'C',
            ),
            (
                "world explicitly allowed",
                rule("tcp", Some(5432), Some(5432), cidr("0.0.0.0/0")),
                &postgres,
                &["0.0.0.0/0"],
                'C',
                'C',
            ),
        ];
        for (name, rule, ports, allowed, ec2_19, sg_source) in cases {
            let [(first, internet), (second, unlisted)] = evaluate_ingress(&rule, ports, &nets(allowed));
            assert_eq!((first, second), (RuleId::Ec2_19OpenToInternet, RuleId::SgSourceNotAllowed));
            assert_eq!((letter(&internet), letter(&unlisted)), (ec2_19, sg_source), "{name}");
        }
    }

    /// Builds rules `tcp from-to` from each CIDR, ids `sgr-<position>`.
    fn group(rules: &[(&str, i32, i32, &str)]) -> Vec<IngressRule> {
        rules
            .iter()
            .enumerate()
            .map(|(i, (protocol, from, to, source))| IngressRule {
                rule_id: format!("sgr-{i}"),
                ..rule(protocol, Some(*from), Some(*to), cidr(source))
            })
            .collect()
    }

    #[test]
    fn union_of_sources_table() {
        let postgres = DatabasePorts::from_listening([5432]);
        let two = DatabasePorts::from_listening([3306, 5432]);
        /// (name, rules, ports, allowed cidrs, EC2.19 letter per rule, SG_SOURCE letter per rule)
        type Case<'a> = (&'a str, Vec<IngressRule>, &'a DatabasePorts, &'a [&'a str], &'a str, &'a str);
        let pg = |source| ("tcp", 5432, 5432, source);
        let cases: Vec<Case> = vec![
            ("two halves of IPv4", group(&[pg("0.0.0.0/1"), pg("128.0.0.0/1")]), &postgres, &[], "VV", "NN"),
            ("one half alone", group(&[pg("0.0.0.0/1")]), &postgres, &[], "C", "N"),
            ("two halves, one a hair short", group(&[pg("0.0.0.0/1"), pg("128.0.0.0/2")]), &postgres, &[], "CC", "NN"),
            (
                "four quarters",
                group(&[pg("0.0.0.0/2"), pg("64.0.0.0/2"), pg("128.0.0.0/2"), pg("192.0.0.0/2")]),
                &postgres,
                &[],
                "VVVV",
                "NNNN",
            ),
            ("halves of IPv6", group(&[pg("::/1"), pg("8000::/1")]), &postgres, &[], "VV", "NN"),
            (
                "half of each family is neither whole",
                group(&[pg("0.0.0.0/1"), pg("8000::/1")]),
                &postgres,
                &[],
                "CC",
                "NN",
            ),
            (
                "a private range beside the halves stays",
                group(&[pg("10.0.0.0/16"), pg("0.0.0.0/1"), pg("128.0.0.0/1")]),
                &postgres,
                &[],
                "CVV",
                "NNN",
            ),
            (
                "the halves twice over: all four go, nothing whole is left",
                group(&[pg("0.0.0.0/1"), pg("128.0.0.0/1"), pg("0.0.0.0/2"), pg("64.0.0.0/2"), pg("128.0.0.0/1")]),
                &postgres,
                &[],
                "VVVVV",
                "NNNNN",
            ),
            (
                "a /0 is judged alone and the halves beside it still go",
                group(&[pg("0.0.0.0/0"), pg("0.0.0.0/1"), pg("128.0.0.0/1")]),
                &postgres,
                &[],
                "VVV",
                "NNN",
            ),
            (
                "halves on different ports are not a union",
                group(&[pg("0.0.0.0/1"), ("tcp", 3306, 3306, "128.0.0.0/1")]),
                &two,
                &[],
                "CC",
                "NN",
            ),
            (
                "a wide range and an all-traffic rule meet on 5432",
                group(&[("tcp", 5000, 6000, "0.0.0.0/1"), ("-1", 0, 0, "128.0.0.0/1")]),
                &postgres,
                &[],
                "VV",
                "NN",
            ),
            (
                "halves beside the database port",
                group(&[("tcp", 443, 443, "0.0.0.0/1"), ("tcp", 443, 443, "128.0.0.0/1")]),
                &postgres,
                &[],
                "CC",
                "NN",
            ),
            (
                "udp halves admit no database",
                group(&[("udp", 5432, 5432, "0.0.0.0/1"), ("udp", 5432, 5432, "128.0.0.0/1")]),
                &postgres,
                &[],
                "NN",
                "NN",
            ),
            (
                "a listed range counts towards the union but stays",
                group(&[pg("203.0.113.0/24"), pg("0.0.0.0/1"), pg("128.0.0.0/1")]),
                &postgres,
                &["203.0.113.0/24"],
                "CVV",
                "CCC",
            ),
            (
                "listed halves are allowed",
                group(&[pg("0.0.0.0/1"), pg("128.0.0.0/1")]),
                &postgres,
                &["0.0.0.0/1", "128.0.0.0/1"],
                "CC",
                "CC",
            ),
            (
                "one listed half, one unlisted",
                group(&[pg("0.0.0.0/1"), pg("128.0.0.0/1")]),
                &postgres,
                &["0.0.0.0/1"],
                "CV",
                "CC",
            ),
            (
                "the whole family listed",
                group(&[pg("0.0.0.0/1"), pg("128.0.0.0/1")]),
                &postgres,
                &["0.0.0.0/0"],
                "CC",
                "CC",
            ),
            (
                "IPv4 listed whole, IPv6 halves still whole",
                group(&[pg("0.0.0.0/1"), pg("128.0.0.0/1"), pg("::/1"), pg("8000::/1")]),
                &postgres,
                &["0.0.0.0/0"],
                "CCVV",
                "CCCC",
            ),
        ];
        for (name, rules, ports, allowed, ec2_19, sg_source) in cases {
            let verdicts = evaluate_group_ingress(&rules, ports, &nets(allowed));
            assert_eq!(verdicts.len(), rules.len(), "{name}");
            let internet: String = verdicts.iter().map(|[(_, v), _]| letter(v)).collect();
            let unlisted: String = verdicts.iter().map(|[_, (_, v)]| letter(v)).collect();
            assert_eq!((internet.as_str(), unlisted.as_str()), (ec2_19, sg_source), "{name}");
        }
    }

    #[test]
    fn a_union_violation_names_the_sources_that_make_it_whole() {
        let rules = group(&[("tcp", 5432, 5432, "0.0.0.0/1"), ("tcp", 0, 65535, "128.0.0.0/1")]);
        let verdicts = evaluate_group_ingress(&rules, &DatabasePorts::from_listening([5432]), &[]);
        let [(_, Verdict::Violation(observed)), _] = &verdicts[1] else { panic!("{verdicts:?}") };
        assert_eq!(observed["rule"]["source"], "128.0.0.0/1");
        assert_eq!(observed["database_ports_admitted"], json!([5432]));
        assert_eq!(observed["whole_internet_by_union"], json!(["0.0.0.0/1", "128.0.0.0/1"]));
    }

    #[test]
    fn evidence_names_the_rule_and_the_ports() {
        let ports = DatabasePorts::from_listening([5432, 5432, 3306]);
        assert_eq!(ports, DatabasePorts::Listening(vec![3306, 5432]));
        let [(_, verdict), _] = evaluate_ingress(&rule("tcp", Some(5000), Some(6000), cidr("::/0")), &ports, &[]);
        let Verdict::Violation(observed) = verdict else { panic!("expected a violation, got {verdict:?}") };
        assert_eq!(observed["rule"]["security_group_rule_id"], "sgr-1");
        assert_eq!(observed["rule"]["source"], "::/0");
        assert_eq!(observed["database_ports_admitted"], json!([5432]));
        assert_eq!(observed["ports_basis"], "ports of the databases using the group");
        assert_eq!(admitted_from_evidence(&observed), vec![5432]);
    }
}
