//! The source conditions of the user-defined parsers (`processor/parsers/user.py`, `_Rule.applies_to_source` and the
//! app-name condition of `_Rule.apply`): a record one of these rules may apply to is handed back to the Python path,
//! which runs the rule; every other record is the core's, since no rule can change its documents.
//!
//! The globs arrive as the regexes `fnmatch.translate` makes of them (Python's own reading of a glob), anchored at
//! both ends; atomic groups and lookaheads, which `translate` writes, are why this is `fancy_regex`.

use crate::parsers::Value;
use crate::wire::{Entry, Source};
use fancy_regex::Regex;

pub struct Rule {
    pub source_kind: Option<String>,
    pub container_name: Option<Regex>,
    pub kubernetes_namespace: Option<Regex>,
    pub path: Option<Regex>,
    /// (source tag, glob of its value)
    pub labels: Vec<(String, Regex)>,
    /// Checked per entry, on its `log.syslog.appname` attr.
    pub appname: Option<Regex>,
}

/// The last value of a tag, as a Python dict built from the same pairs keeps it.
fn tag<'a>(tags: &'a [(String, String)], key: &str) -> Option<&'a str> {
    tags.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// `fnmatchcase(value, glob)`; a regex that gives up (its backtracking limit) counts as a match, so that Python decides.
fn matches(glob: &Regex, value: Option<&str>) -> bool {
    value.is_some_and(|v| glob.is_match(v).unwrap_or(true))
}

impl Rule {
    pub fn applies_to_source(&self, source: &Source) -> bool {
        if self.source_kind.as_ref().is_some_and(|k| *k != source.kind) {
            return false;
        }
        let scoped = [(&self.container_name, tag(&source.tags, "container.name")),
                      (&self.kubernetes_namespace, tag(&source.tags, "kubernetes.namespace")),
                      (&self.path, source.path.as_deref())];
        if scoped.iter().any(|(glob, value)| glob.as_ref().is_some_and(|g| !matches(g, *value))) {
            return false;
        }
        self.labels.iter().all(|(key, glob)| matches(glob, tag(&source.tags, key)))
    }

    fn applies_to_entry(&self, entry: &Entry) -> bool {
        let Some(glob) = &self.appname else { return true };
        let app = entry.attrs.iter().rev().find(|(k, _)| k == "log.syslog.appname").map(|(_, v)| v);
        matches(glob, match app {
            Some(Value::Str(s)) => Some(s.as_str()),
            _ => None,
        })
    }
}

#[derive(Default)]
pub struct Rules(pub Vec<Rule>);

impl Rules {
    /// Whether any rule may apply to an entry of this record.
    pub fn claim(&self, source: &Source, entries: &[Entry]) -> bool {
        self.0.iter().any(|r| r.applies_to_source(source) && entries.iter().any(|e| r.applies_to_entry(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(re: &str) -> Option<Regex> {
        Some(Regex::new(re).unwrap())
    }

    #[test]
    fn conditions_as_python_reads_them() {
        // fnmatch.translate("web-*-[0-9]") and ("/var/*/x*y*.log"), anchored, with \z for Python's \Z.
        let rule = Rule { source_kind: Some("container".into()), container_name: glob(r"^(?s:web\-.*\-[0-9])\z"),
                          kubernetes_namespace: None, path: None, labels: vec![], appname: None };
        let mut src = Source { id: "s".into(), kind: "container".into(), host: String::new(),
                               collector: String::new(), path: None,
                               tags: vec![("container.name".into(), "web-a-1".into())] };
        assert!(rule.applies_to_source(&src));
        src.tags.push(("container.name".into(), "web-a-1\n".into()));
        assert!(!rule.applies_to_source(&src));
        let path = Rule { source_kind: None, container_name: None, kubernetes_namespace: None,
                          path: glob(r"^(?s:/var/(?>.*?/x)(?>.*?y).*\.log)\z"), labels: vec![], appname: None };
        src.path = Some("/var/a/b/xzyy.log".into());
        assert!(path.applies_to_source(&src));
        src.path = Some("/var/a/b/xz.log".into());
        assert!(!path.applies_to_source(&src));
    }
}
