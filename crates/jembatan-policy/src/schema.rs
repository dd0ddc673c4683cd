//! The Cedar schema built into the program, and the default policy folder.
//!
//! The schema describes what the exchange puts in every request (principal entities, actions,
//! context), so it belongs to the program, not to the operator: policies are validated against
//! this copy, and a folder whose `jembatan.cedarschema` differs from it is refused.

use cedar_policy::Schema;

use crate::PolicyError;

/// Name of the schema file in a policy folder.
pub const SCHEMA_FILE: &str = "jembatan.cedarschema";

/// The schema's text, as in `deploy/policies/jembatan.cedarschema`.
pub const SCHEMA_TEXT: &str = include_str!("../../../deploy/policies/jembatan.cedarschema");

/// The namespace of every entity type and action.
pub const NAMESPACE: &str = "Jembatan";

/// The default policy folder, `deploy/policies/`: file names and contents. `jembatan dev` writes
/// these; operators start from them.
pub const DEFAULT_FILES: &[(&str, &str)] = &[
    (SCHEMA_FILE, SCHEMA_TEXT),
    (
        "auditors.cedar",
        include_str!("../../../deploy/policies/auditors.cedar"),
    ),
    (
        "individual-data.cedar",
        include_str!("../../../deploy/policies/individual-data.cedar"),
    ),
    (
        "kemendag.cedar",
        include_str!("../../../deploy/policies/kemendag.cedar"),
    ),
    (
        "kp2mi.cedar",
        include_str!("../../../deploy/policies/kp2mi.cedar"),
    ),
];

/// Parses the built-in schema.
pub fn builtin() -> Result<Schema, PolicyError> {
    let (schema, warnings) = Schema::from_cedarschema_str(SCHEMA_TEXT)
        .map_err(|e| PolicyError::BuiltinSchema(e.to_string()))?;
    for warning in warnings {
        tracing::warn!(%warning, "built-in policy schema");
    }
    Ok(schema)
}

/// Writes the default policy folder into `dir` (created if missing), leaving files that exist.
pub fn write_defaults(dir: &std::path::Path) -> Result<(), PolicyError> {
    let read_err = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| PolicyError::Read { path, source }
    };
    std::fs::create_dir_all(dir).map_err(read_err(dir))?;
    for (name, text) in DEFAULT_FILES {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, text).map_err(read_err(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schema_parses_and_declares_every_data_class() {
        let schema = builtin().expect("built-in schema");
        let actions: Vec<String> = schema
            .actions()
            .map(|a| a.id().unescaped().to_owned())
            .collect();
        for class in crate::DataClass::ALL {
            assert!(
                actions.contains(&class.action().to_owned()),
                "{} missing",
                class.action()
            );
        }
    }

    #[test]
    fn default_files_are_the_whole_deploy_folder() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/policies");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("deploy/policies")
            .map(|entry| {
                entry
                    .expect("entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".cedar") || name.ends_with(".cedarschema"))
            .collect();
        on_disk.sort();
        let mut embedded: Vec<&str> = DEFAULT_FILES.iter().map(|(name, _)| *name).collect();
        embedded.sort();
        assert_eq!(
            on_disk, embedded,
            "a policy file in deploy/policies is not built in"
        );
    }
}
