//! A policy folder parsed and validated against the built-in schema.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{
    ActionConstraint, EntityUid, Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator,
};
use miette::Diagnostic;

use crate::schema::SCHEMA_FILE;
use crate::source::{PolicySource, SourceFile};
use crate::{PolicyError, Problem};

/// Where a policy was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// File name within the folder.
    pub file: String,
    /// 1-based line of its `@id` annotation.
    pub line: usize,
}

/// A validated policy set, ready to decide requests.
#[derive(Debug)]
pub struct Policies {
    pub(crate) schema: Schema,
    /// Per action: its entity and the policies whose scope can match it. Cedar evaluates
    /// every policy it is given; a policy whose action scope excludes the action cannot apply,
    /// so leaving it out changes no decision and saves most of the work.
    pub(crate) actions: HashMap<String, (EntityUid, PolicySet)>,
    hash: Arc<str>,
    origins: BTreeMap<String, Origin>,
    warnings: Vec<Problem>,
}

impl Policies {
    /// Reads and compiles the policy folder `dir`.
    pub fn load_dir(dir: &Path) -> Result<Self, PolicyError> {
        Self::compile(&PolicySource::read_dir(dir)?)
    }

    /// Parses every file, gives each policy its `@id`, and validates the set in strict mode
    /// against the built-in schema. Reports every problem found, not just the first.
    pub fn compile(source: &PolicySource) -> Result<Self, PolicyError> {
        if source.policy_files.is_empty() {
            return Err(PolicyError::NoPolicies(source.dir.clone()));
        }
        let schema = crate::schema::builtin()?;
        let mut problems: Vec<Problem> = source
            .foreign_schema_files()
            .into_iter()
            .map(|file| Problem {
                file: file.to_owned(),
                position: None,
                policy: None,
                message: format!(
                    "differs from the schema built into this program; the schema is not \
                     configurable: remove the file or copy {SCHEMA_FILE} from deploy/policies"
                ),
            })
            .collect();

        let mut set = PolicySet::new();
        let mut origins: BTreeMap<String, Origin> = BTreeMap::new();
        for file in &source.policy_files {
            // Cedar's parser recurses once per level of an expression: a file nested too deep
            // would overflow the stack of whoever loads it (the exchange, on reload) before
            // Cedar could refuse it.
            if let Err((offset, reason)) = check_depth(&file.text) {
                problems.push(Problem {
                    position: Some(position_of(&file.text, offset)),
                    ..at(file, None, &reason)
                });
                continue;
            }
            let parsed = match PolicySet::from_str(&file.text) {
                Ok(parsed) => parsed,
                Err(errors) => {
                    problems.extend(errors.iter().map(|e| problem(file, None, e)));
                    continue;
                }
            };
            if parsed.templates().next().is_some() {
                problems.push(at(
                    file,
                    None,
                    "templates are not supported; write policies",
                ));
            }
            for policy in parsed.policies() {
                let Some(id) = policy.annotation("id") else {
                    let text = policy.to_string();
                    let line = line_of(&file.text, text.lines().next().unwrap_or_default());
                    problems.push(Problem {
                        position: line.map(|l| (l, 1)),
                        ..at(file, None, "every policy needs an @id(\"...\") annotation")
                    });
                    continue;
                };
                let line = line_of(&file.text, &format!("@id(\"{id}\")")).unwrap_or(1);
                if let Err(reason) = check_id(id) {
                    problems.push(Problem {
                        position: Some((line, 1)),
                        ..at(file, Some(id), reason)
                    });
                    continue;
                }
                if let Some(first) = origins.get(id) {
                    problems.push(Problem {
                        position: Some((line, 1)),
                        ..at(
                            file,
                            Some(id),
                            &format!("duplicate @id; first used at {}:{}", first.file, first.line),
                        )
                    });
                    continue;
                }
                origins.insert(
                    id.to_owned(),
                    Origin {
                        file: file.name.clone(),
                        line,
                    },
                );
                let policy = policy.new_id(PolicyId::new(id));
                if let Err(e) = set.add(policy) {
                    problems.push(at(file, Some(id), &e.to_string()));
                }
            }
        }
        // Validate what did parse, so that one run reports every problem of the folder.
        let validator = Validator::new(schema);
        let result = validator.validate(&set, ValidationMode::Strict);
        let file_of = |id: &PolicyId| {
            origins
                .get(AsRef::<str>::as_ref(id))
                .and_then(|o| source.policy_files.iter().find(|f| f.name == o.file))
        };
        for error in result.validation_errors() {
            if let Some(file) = file_of(error.policy_id()) {
                problems.push(problem(file, Some(id_str(error.policy_id())), error));
            }
        }
        let warnings = result
            .validation_warnings()
            .filter_map(|w| {
                file_of(w.policy_id()).map(|file| problem(file, Some(id_str(w.policy_id())), w))
            })
            .collect();
        if !problems.is_empty() {
            problems.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
            return Err(invalid(source, problems));
        }
        let schema = validator.schema().clone();
        let actions = actions_with_their_policies(&schema, &set)?;
        Ok(Self {
            schema,
            actions,
            hash: source.hash.as_str().into(),
            origins,
            warnings,
        })
    }

    /// `sha256:<hex>` of the folder the set was read from.
    pub fn hash(&self) -> &Arc<str> {
        &self.hash
    }

    /// Ids of every policy with where it was written, sorted by id.
    pub fn origins(&self) -> &BTreeMap<String, Origin> {
        &self.origins
    }

    /// Validator warnings (for example a policy that can never apply). They do not stop a load.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// Whether the schema declares `action`, a method or a data-class read: an action decided
    /// for a stated purpose. Health and reflection ([`crate::SERVICE_ACTIONS`]) are not.
    pub fn declares(&self, action: &str) -> bool {
        self.actions.contains_key(action) && !crate::SERVICE_ACTIONS.contains(&action)
    }

    /// Every action [`Policies::declares`], sorted.
    pub fn action_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .actions
            .keys()
            .map(String::as_str)
            .filter(|action| !crate::SERVICE_ACTIONS.contains(action))
            .collect();
        names.sort_unstable();
        names
    }
}

/// Every action of the schema with the policies that can apply to it.
fn actions_with_their_policies(
    schema: &Schema,
    set: &PolicySet,
) -> Result<HashMap<String, (EntityUid, PolicySet)>, PolicyError> {
    let action_entities = schema
        .action_entities()
        .map_err(|e| PolicyError::BuiltinSchema(e.to_string()))?;
    let mut actions = HashMap::new();
    for action in schema.actions() {
        let groups: Vec<&EntityUid> = action_entities
            .ancestors(action)
            .map(Iterator::collect)
            .unwrap_or_default();
        let mut subset = PolicySet::new();
        for policy in set.policies().filter(|p| can_apply(p, action, &groups)) {
            subset
                .add(policy.clone())
                .map_err(|e| PolicyError::Request(e.to_string()))?;
        }
        actions.insert(action.id().unescaped().to_owned(), (action.clone(), subset));
    }
    Ok(actions)
}

/// Whether `policy`'s action scope admits `action`, a member of `groups`.
fn can_apply(policy: &Policy, action: &EntityUid, groups: &[&EntityUid]) -> bool {
    match policy.action_constraint() {
        ActionConstraint::Any => true,
        ActionConstraint::Eq(uid) => uid == *action,
        ActionConstraint::In(uids) => uids
            .iter()
            .any(|uid| uid == action || groups.contains(&uid)),
    }
}

fn invalid(source: &PolicySource, problems: Vec<Problem>) -> PolicyError {
    PolicyError::Invalid {
        dir: source.dir.clone(),
        problems,
    }
}

fn at(file: &SourceFile, policy: Option<&str>, message: &str) -> Problem {
    Problem {
        file: file.name.clone(),
        position: None,
        policy: policy.map(str::to_owned),
        message: message.to_owned(),
    }
}

/// A problem from a Cedar diagnostic, located by its first label within `file`.
fn problem(file: &SourceFile, policy: Option<&str>, diagnostic: &dyn Diagnostic) -> Problem {
    let position = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|label| position_of(&file.text, label.offset()));
    let mut message = diagnostic.to_string();
    if let Some(id) = policy {
        // Cedar names the policy at the front; the problem already does.
        for prefix in [
            format!("for policy `{id}`, "),
            format!("for policy `{id}`: "),
        ] {
            if let Some(rest) = message.strip_prefix(&prefix) {
                message = rest.to_owned();
            }
        }
    }
    if let Some(help) = diagnostic.help() {
        message = format!("{message} ({help})");
    }
    Problem {
        file: file.name.clone(),
        position,
        policy: policy.map(str::to_owned),
        message,
    }
}

fn id_str(id: &PolicyId) -> &str {
    id.as_ref()
}

/// 1-based line and column of byte `offset` in `text`.
fn position_of(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    (line, offset.min(text.len()) - line_start + 1)
}

/// 1-based line of the first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.find(needle).map(|offset| position_of(text, offset).0)
}

/// The deepest an expression may nest, counting each open bracket (`(`, `[`, `{`, the
/// policy's own included) and each `if` not yet closed by its bracket or a `,`. Cedar parses
/// every level with a recursion that costs tens of kilobytes of stack (a debug build overflows
/// a 2 MiB thread at about 36 brackets, a release build at about 144); real policies nest a
/// few levels.
const MAX_NESTING: usize = 16;

/// The most operators one policy (up to its `;`) may hold: `.`, `+`, `-`, `*`, `<`, `>`, `=`,
/// `&`, `|`, `!` (each character), `has`, `like`, `is` and `in`. A chain of them is as deep as
/// it is long (Cedar folds `&&` and `||` chains into trees as deep as they are long, and
/// dropping such a tree recurses once per level).
const MAX_OPERATORS: usize = 1024;

/// Refuses text that would nest deeper than [`MAX_NESTING`] or chain more than
/// [`MAX_OPERATORS`] operators in one policy, with the byte offset where it does and why. A
/// lexical bound, above the depth Cedar would build: strings and comments are skipped.
fn check_depth(text: &str) -> Result<(), (usize, String)> {
    let bytes = text.as_bytes();
    // Open `if`s per open bracket; the first entry is outside any bracket.
    let mut ifs: Vec<usize> = vec![0];
    let mut open_ifs = 0;
    let mut operators = 0;
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let mut deeper = false;
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            // A comment ends at a line feed or a carriage return, as Cedar's lexer ends it.
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                ifs.push(0);
                deeper = true;
            }
            b')' | b']' | b'}' if ifs.len() > 1 => open_ifs -= ifs.pop().unwrap_or(0),
            b',' => open_ifs -= ifs.last_mut().map_or(0, std::mem::take),
            b';' if ifs.len() == 1 => {
                open_ifs -= std::mem::take(&mut ifs[0]);
                operators = 0;
            }
            b'.' | b'+' | b'-' | b'*' | b'<' | b'>' | b'=' | b'&' | b'|' | b'!' => operators += 1,
            b if b.is_ascii_alphabetic() || b == b'_' => {
                while i + 1 < bytes.len()
                    && (bytes[i + 1].is_ascii_alphanumeric() || bytes[i + 1] == b'_')
                {
                    i += 1;
                }
                match &text[start..=i] {
                    "if" => {
                        if let Some(level) = ifs.last_mut() {
                            *level += 1;
                        }
                        open_ifs += 1;
                        deeper = true;
                    }
                    "has" | "like" | "is" | "in" => operators += 1,
                    _ => {}
                }
            }
            _ => {}
        }
        if deeper && ifs.len() - 1 + open_ifs > MAX_NESTING {
            return Err((
                start,
                format!(
                    "nests deeper than {MAX_NESTING} levels of brackets and if-then-else; \
                     write the condition flatter or split the policy"
                ),
            ));
        }
        if operators > MAX_OPERATORS {
            return Err((
                start,
                format!("holds more than {MAX_OPERATORS} operators in one policy; split it"),
            ));
        }
        i += 1;
    }
    Ok(())
}

/// Policy ids go into audit leaves and logs: keep them short and plain.
fn check_id(id: &str) -> Result<(), &'static str> {
    let plain = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if id.is_empty() || id.len() > 64 || !plain {
        return Err("@id must be 1 to 64 characters of a-z, 0-9 and '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary copy of the default folder plus `extra` files.
    fn folder(extra: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::schema::write_defaults(dir.path()).expect("defaults");
        for (name, text) in extra {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    fn problems(dir: &tempfile::TempDir) -> Vec<Problem> {
        match Policies::load_dir(dir.path()) {
            Err(PolicyError::Invalid { problems, .. }) => problems,
            other => panic!("expected invalid policies, got {other:?}"),
        }
    }

    const PERMIT_HEAD: &str = "@id(\"extra\")\npermit (\n  principal in Jembatan::Agency::\"kemendag\",\n  \
         action == Jembatan::Action::\"WorkforceService/ListCandidates\",\n  resource\n)\n";

    #[test]
    fn the_default_folder_loads_clean() {
        let dir = folder(&[]);
        let policies = Policies::load_dir(dir.path()).expect("defaults are valid");
        assert_eq!(policies.origins().len(), 19);
        assert!(policies.warnings().is_empty(), "{:?}", policies.warnings());
        let origin = &policies.origins()["kemendag-candidate-contact"];
        assert_eq!(origin.file, "kemendag.cedar");
        let text = std::fs::read_to_string(dir.path().join("kemendag.cedar")).expect("read");
        let line = text.lines().nth(origin.line - 1).expect("line");
        assert_eq!(line, "@id(\"kemendag-candidate-contact\")");
        assert_eq!(
            policies.hash().as_ref(),
            PolicySource::read_dir(dir.path()).expect("read").hash
        );
        assert_eq!(policies.action_names().len(), 29);
    }

    #[test]
    fn a_syntax_error_is_located_by_file_and_line() {
        let dir = folder(&[(
            "broken.cedar",
            "// one\n// two\npermit (principal, action resource);\n",
        )]);
        let found = problems(&dir);
        assert!(!found.is_empty());
        for problem in &found {
            assert_eq!(problem.file, "broken.cedar");
            assert_eq!(problem.position.map(|(line, _)| line), Some(3), "{problem}");
        }
    }

    #[test]
    fn a_misspelt_purpose_fails_validation() {
        let text = format!(
            "{PERMIT_HEAD}when {{ context.purpose == Jembatan::Purpose::\"BUSINES_MATCHING\" }};\n"
        );
        let dir = folder(&[("extra.cedar", &text)]);
        let found = problems(&dir);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].file, "extra.cedar");
        assert_eq!(found[0].policy.as_deref(), Some("extra"));
        assert_eq!(found[0].position.map(|(line, _)| line), Some(7));
        assert!(
            found[0].message.contains("BUSINES_MATCHING"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_missing_context_attribute_fails_validation() {
        let text =
            format!("{PERMIT_HEAD}when {{ context.purpse == Jembatan::Purpose::\"AUDIT\" }};\n");
        let found = problems(&folder(&[("extra.cedar", &text)]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].message.contains("purpse"), "{}", found[0]);
    }

    #[test]
    fn an_undeclared_action_fails_validation() {
        let text = "@id(\"dump\")\npermit (principal, action == Jembatan::Action::\"WorkforceService/DumpAll\", resource);\n";
        let found = problems(&folder(&[("extra.cedar", text)]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].policy.as_deref(), Some("dump"));
    }

    #[test]
    fn ids_are_required_plain_and_unique() {
        let text = "permit (principal, action, resource);\n\
                    @id(\"Has Spaces\")\npermit (principal, action, resource);\n\
                    @id(\"kemendag-witness\")\npermit (principal, action, resource);\n";
        // "other.cedar" sorts after "kemendag.cedar", which holds the first kemendag-witness.
        let found = problems(&folder(&[("other.cedar", text)]));
        let messages: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 3, "{messages:#?}");
        assert!(messages[0].contains("needs an @id"), "{}", messages[0]);
        assert!(messages[1].contains("Has Spaces"), "{}", messages[1]);
        assert!(
            messages[2].starts_with("other.cedar:4:1: policy kemendag-witness: duplicate @id; first used at kemendag.cedar:"),
            "{}",
            messages[2]
        );
    }

    #[test]
    fn an_edited_schema_copy_is_refused() {
        let edited = crate::schema::SCHEMA_TEXT
            .replace("entity Exchange;", "entity Exchange;\n  entity Extra;");
        let found = problems(&folder(&[
            (SCHEMA_FILE, &edited),
            ("other.cedarschema", ""),
        ]));
        let files: Vec<&str> = found.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(files, [SCHEMA_FILE, "other.cedarschema"]);
        assert!(
            found[0].message.contains("not configurable"),
            "{}",
            found[0]
        );
    }

    /// The problems of `extra.cedar` holding a copy of [`PERMIT_HEAD`] with `condition`.
    fn condition_problems(condition: &str) -> Vec<Problem> {
        let text = format!("{PERMIT_HEAD}when {{ {condition} }};\n");
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("extra.cedar"), text).expect("write");
        match Policies::load_dir(dir.path()) {
            Ok(_) => Vec::new(),
            Err(PolicyError::Invalid { problems, .. }) => problems,
            Err(other) => panic!("{other}"),
        }
    }

    const PURPOSE: &str = "context.purpose == Jembatan::Purpose::\"BUSINESS_MATCHING\"";

    #[test]
    fn expressions_nested_too_deep_are_refused_before_cedar_parses_them() {
        // Found with the policy_folder fuzz target (fuzz/corpus/policy_folder/regression_*):
        // each of these overflowed the stack of the thread loading the folder (the test's,
        // 2 MiB, as the exchange's reload).
        let deep = [
            format!("{}true{}", "(".repeat(10_000), ")".repeat(10_000)),
            format!("{}{} == []", "[".repeat(10_000), "]".repeat(10_000)),
            format!("{}1{} == 1", "{a: ".repeat(10_000), "}".repeat(10_000)),
            format!(
                "{}true{}",
                "if true then ".repeat(2_000),
                " else true".repeat(2_000)
            ),
            format!("{}true", "if true then true else ".repeat(2_000)),
        ];
        for condition in &deep {
            let found = condition_problems(condition);
            assert_eq!(found.len(), 1, "{found:?}");
            assert_eq!(found[0].file, "extra.cedar");
            assert_eq!(
                found[0].position.map(|(line, _)| line),
                Some(7),
                "{}",
                found[0]
            );
            assert!(
                found[0].message.contains("nests deeper than 16"),
                "{}",
                found[0]
            );
        }
        for chain in [
            format!("1{} == 1", " + 1".repeat(100_000)),
            // Found in review: && and || were not counted.
            format!("true{}", " && true".repeat(100_000)),
            format!("false{}", " || false".repeat(100_000)),
        ] {
            let found = condition_problems(&chain);
            assert_eq!(found.len(), 1, "{found:?}");
            assert!(
                found[0].message.contains("more than 1024 operators"),
                "{}",
                found[0]
            );
        }
        // Found in review: a comment ends at a bare carriage return for Cedar, so what
        // follows it on the "same line" is policy text and is checked.
        let hidden = format!("// x\r{}true{}", "(".repeat(10_000), ")".repeat(10_000));
        let found = condition_problems(&hidden);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("nests deeper than 16"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn nesting_up_to_the_limit_and_side_by_side_loads() {
        // `when {` is the first level.
        let deepest = format!("{}{PURPOSE}{}", "(".repeat(15), ")".repeat(15));
        assert_eq!(condition_problems(&deepest), []);
        let deeper = format!("({deepest})");
        assert!(
            condition_problems(&deeper)[0]
                .message
                .contains("nests deeper")
        );
        // Side by side is not deeper: `if`s in a set, groups joined by `&&`, one per policy.
        let ifs = vec!["(if true then true else false)"; 40].join(" && ");
        assert_eq!(condition_problems(&format!("{ifs} && {PURPOSE}")), []);
        let set = vec!["if true then 1 else 2"; 40].join(", ");
        assert_eq!(
            condition_problems(&format!("[{set}].contains(1) && {PURPOSE}")),
            []
        );
        let strings = format!("\"{}\" like \"*\" && {PURPOSE}", "((((".repeat(100));
        assert_eq!(
            condition_problems(&strings),
            [],
            "strings are not expressions"
        );
    }

    #[test]
    fn a_folder_without_policies_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("README.md"), "no policies here").expect("write");
        assert!(matches!(
            Policies::load_dir(dir.path()),
            Err(PolicyError::NoPolicies(_))
        ));
        assert!(matches!(
            Policies::load_dir(&dir.path().join("missing")),
            Err(PolicyError::Read { .. })
        ));
    }
}
