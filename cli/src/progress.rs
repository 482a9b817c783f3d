//! `rdsguard scan`'s progress line on stderr: `rdsguard scan: 12/51 account-regions, 3 findings,
//! 4.2 s`, rewritten in place as each account-region finishes. Shown only when stderr is a terminal
//! (a person watching) and `--no-progress` is not given; a pipe, a file or CI gets nothing but the
//! summary, so logs stay clean.

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    out: Option<Box<dyn Write>>,
    total: usize,
    done: usize,
    findings: usize,
    started: Instant,
}

impl Progress {
    /// On stderr when it is a terminal and `wanted`; silent otherwise.
    pub fn on_stderr(total: usize, wanted: bool) -> Self {
        let out: Option<Box<dyn Write>> =
            (wanted && std::io::stderr().is_terminal()).then(|| Box::new(std::io::stderr()) as Box<dyn Write>);
        Self::to(out, total)
    }

    /// Writing to `out` (`None`: silent).
    pub fn to(out: Option<Box<dyn Write>>, total: usize) -> Self {
        Self { out, total, done: 0, findings: 0, started: Instant::now() }
    }

    /// One account-region finished with `findings` findings.
    pub fn finished_one(&mut self, findings: usize) {
        self.done += 1;
        self.findings += findings;
        let line = self.line();
        if let Some(out) = &mut self.out {
            // \r and the erase-line sequence: the line is rewritten in place.
            let _ = write!(out, "\r\x1b[2K{line}");
            let _ = out.flush();
        }
    }

    /// Clears the line before the summary is printed.
    pub fn clear(&mut self) {
        if let Some(out) = &mut self.out {
            let _ = write!(out, "\r\x1b[2K");
            let _ = out.flush();
        }
    }

    fn line(&self) -> String {
        format!(
            "rdsguard scan: {}/{} account-regions, {} finding{}, {:.1} s",
            self.done,
            self.total,
            self.findings,
            if self.findings == 1 { "" } else { "s" },
            self.started.elapsed().as_secs_f64()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn counts_account_regions_and_findings_in_one_rewritten_line() {
        let sink = Shared::default();
        let mut progress = Progress::to(Some(Box::new(sink.clone())), 3);
        progress.finished_one(2);
        progress.finished_one(0);
        progress.clear();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("rdsguard scan: 1/3 account-regions, 2 findings"), "{text:?}");
        assert!(text.contains("rdsguard scan: 2/3 account-regions, 2 findings"), "{text:?}");
        assert!(!text.contains('\n'), "one line, rewritten: {text:?}");
        assert!(text.ends_with("\r\x1b[2K"), "cleared before the summary: {text:?}");
    }

    #[test]
    fn silent_without_a_terminal() {
        let mut progress = Progress::to(None, 2);
        progress.finished_one(1);
        progress.clear();
        assert_eq!(progress.line().split(',').next(), Some("rdsguard scan: 1/2 account-regions"));
    }
}
