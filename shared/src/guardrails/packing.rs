//! Packing statements into as few SCP documents as AWS's quotas allow.
//!
//! Quotas (AWS Organizations, "Quotas and service limits"): an SCP document is at most 5,120
//! characters (AWS counts the document as stored, so documents are stored minified), and at most 5
//! SCPs can be attached to a root, OU or account, FullAWSAccess included.

use serde_json::{json, Value};

/// Maximum size of a Service Control Policy document, in characters.
pub const MAX_POLICY_CHARS: usize = 5_120;
/// Maximum number of SCPs attached to one root, OU or account (FullAWSAccess counts).
pub const MAX_POLICIES_PER_TARGET: usize = 5;

const VERSION: &str = "2012-10-17";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackingError {
    #[error(
        "statement {sid} is {chars} characters minified; with the document wrapper it cannot fit the SCP size \
         limit of {MAX_POLICY_CHARS} characters (shorten its principal or region lists)"
    )]
    StatementTooLarge { sid: String, chars: usize },
}

/// A minified SCP document, ready for CreatePolicy/UpdatePolicy.
pub fn document(statements: &[Value]) -> String {
    json!({"Version": VERSION, "Statement": statements}).to_string()
}

/// Size of the document holding statements of these minified sizes.
fn document_chars(sizes: impl IntoIterator<Item = usize>) -> usize {
    let (count, total): (usize, usize) = sizes.into_iter().fold((0, 0), |(n, sum), size| (n + 1, sum + size));
    document(&[]).len() + total + count.saturating_sub(1)
}

/// Packs the statements into the fewest documents of at most [`MAX_POLICY_CHARS`] characters each.
/// Statements keep their order within a document, and documents are ordered by their first
/// statement, so the same input always gives the same documents.
pub fn pack(statements: &[Value]) -> Result<Vec<String>, PackingError> {
    let sizes: Vec<usize> = statements.iter().map(|s| s.to_string().len()).collect();
    for (statement, size) in statements.iter().zip(&sizes) {
        if document_chars([*size]) > MAX_POLICY_CHARS {
            let sid = statement.get("Sid").and_then(Value::as_str).unwrap_or("(no Sid)").to_owned();
            return Err(PackingError::StatementTooLarge { sid, chars: *size });
        }
    }
    if statements.is_empty() {
        return Ok(Vec::new());
    }
    let bins = fewest_bins(&sizes);
    let mut documents: Vec<Vec<usize>> = bins.into_iter().filter(|b| !b.is_empty()).collect();
    for bin in &mut documents {
        bin.sort_unstable();
    }
    documents.sort_unstable();
    Ok(documents.iter().map(|bin| document(&bin.iter().map(|&i| statements[i].clone()).collect::<Vec<_>>())).collect())
}

/// Assigns statement indexes to the fewest bins: tries 1, 2, ... bins, placing the largest
/// statements first and backtracking. The catalogue has a handful of statements, so the search is
/// instant; each statement fits a bin on its own (checked by the caller), so `sizes.len()` bins
/// always work.
fn fewest_bins(sizes: &[usize]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|a, b| sizes[*b].cmp(&sizes[*a]).then(a.cmp(b)));
    for count in 1..=sizes.len() {
        let mut bins: Vec<Vec<usize>> = vec![Vec::new(); count];
        if place(&order, sizes, &mut bins) {
            return bins;
        }
    }
    order.iter().map(|&i| vec![i]).collect()
}

fn place(order: &[usize], sizes: &[usize], bins: &mut [Vec<usize>]) -> bool {
    let Some((&next, rest)) = order.split_first() else {
        return true;
    };
    let mut tried_empty = false;
    for b in 0..bins.len() {
        if bins[b].is_empty() {
            // Every empty bin is the same: trying one is enough.
            if tried_empty {
                continue;
            }
            tried_empty = true;
        }
        let fits = document_chars(bins[b].iter().map(|&i| sizes[i]).chain([sizes[next]])) <= MAX_POLICY_CHARS;
        if fits {
            bins[b].push(next);
            if place(rest, sizes, bins) {
                return true;
            }
            bins[b].pop();
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement of exactly `chars` characters minified.
    fn statement(sid: &str, chars: usize) -> Value {
        let base = json!({"Sid": sid, "Effect": "Deny", "Action": "rds:DeleteDBInstance", "Resource": ""});
        let padding = chars - base.to_string().len();
        json!({"Sid": sid, "Effect": "Deny", "Action": "rds:DeleteDBInstance", "Resource": "x".repeat(padding)})
    }

    fn wrapper() -> usize {
        document(&[]).len()
    }

    #[test]
    fn a_document_at_exactly_the_limit_is_one_document() {
        let full = statement("Full", MAX_POLICY_CHARS - wrapper());
        let docs = pack(std::slice::from_ref(&full)).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].len(), MAX_POLICY_CHARS);
        let two_halves = [statement("A", 2_000), statement("B", MAX_POLICY_CHARS - wrapper() - 2_001)];
        let docs = pack(&two_halves).unwrap();
        assert_eq!(docs.iter().map(String::len).collect::<Vec<_>>(), [MAX_POLICY_CHARS]);
    }

    #[test]
    fn one_character_over_the_limit_refuses_and_names_it() {
        let over = statement("Huge", MAX_POLICY_CHARS - wrapper() + 1);
        let error = pack(&[over]).unwrap_err().to_string();
        assert!(error.contains("Huge") && error.contains("5120 characters"), "{error}");
        let two = [statement("A", 2_000), statement("B", MAX_POLICY_CHARS - wrapper() - 2_000)];
        assert_eq!(pack(&two).unwrap().len(), 2, "one character too many for one document");
    }

    #[test]
    fn packs_into_the_fewest_documents_not_first_fit() {
        // First-fit in the given order puts the two small statements together and then needs a
        // document for each large one (3); pairing each small one with a large one needs 2.
        let room = MAX_POLICY_CHARS - wrapper();
        let small = room * 3 / 10 - 5;
        let large = room - 1 - small - 5;
        let sizes = [small, small, large, large];
        let statements: Vec<Value> = sizes.iter().enumerate().map(|(i, s)| statement(&format!("S{i}"), *s)).collect();
        let docs = pack(&statements).unwrap();
        assert_eq!(docs.len(), 2, "{:?}", docs.iter().map(String::len).collect::<Vec<_>>());
        for doc in &docs {
            assert!(doc.len() <= MAX_POLICY_CHARS);
            let parsed: Value = serde_json::from_str(doc).unwrap();
            assert_eq!(parsed["Version"], "2012-10-17");
        }
        let all: Vec<String> = docs
            .iter()
            .flat_map(|d| serde_json::from_str::<Value>(d).unwrap()["Statement"].as_array().unwrap().clone())
            .map(|s| s["Sid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(all.len(), 4, "every statement is in exactly one document: {all:?}");
        assert_eq!(pack(&statements).unwrap(), docs, "packing is deterministic");
    }

    #[test]
    fn nothing_to_pack_is_no_document() {
        assert!(pack(&[]).unwrap().is_empty());
    }
}
