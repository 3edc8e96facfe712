//! Loading whole configurations from temp dirs: defaults, ranges, and errors that name the
//! file, the key and the line.

use super::*;

/// A tend.toml with these extra `[llm]` lines and one mailbox with these extra `[rules]`.
fn write(dir: &Path, llm: &str, rules: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("mailboxes")).unwrap();
    let tend = dir.join("tend.toml");
    std::fs::write(
        &tend,
        format!("[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n{llm}"),
    )
    .unwrap();
    std::fs::write(
        dir.join("mailboxes/a.toml"),
        format!(
            "addresses = [\"a@x.example\"]\ntimezone = \"UTC\"\n[imap]\nhost = \"h\"\n\
             username = \"a\"\npassword_file = \"pw\"\n[rules]\n{rules}"
        ),
    )
    .unwrap();
    private(&dir.join("mailboxes/pw"));
    tend
}

fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, "secret\n").unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn the_shipped_examples_load() {
    // The examples point at /etc/tend; a copy points at a temp dir holding the secrets.
    let dir = tempfile::tempdir().unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let here = format!("{}/", dir.path().display());
    std::fs::create_dir_all(dir.path().join("mailboxes")).unwrap();
    for f in ["tend.toml", "mailboxes/example.toml"] {
        let text = std::fs::read_to_string(shipped.join(f)).unwrap();
        std::fs::write(dir.path().join(f), text.replace("/etc/tend/", &here)).unwrap();
    }
    private(&dir.path().join("openai.key"));
    private(&dir.path().join("alice.password"));
    let config = load(&dir.path().join("tend.toml")).unwrap();
    assert_eq!(config.llm.temperature, 0.3);
    assert_eq!(config.llm.frequency_penalty, None);
    assert_eq!(config.mailboxes.len(), 1);
    assert_eq!(config.mailboxes[0].rules, Rules::default());
    // The examples are written for the systemd unit: secrets come as its credentials.
    assert_eq!(
        config.mailboxes[0].imap.auth,
        Auth::Password(Secret::Credential("tend_alice".into()))
    );
    assert_eq!(
        config.llm.api_key,
        Some(Secret::Credential("tend_openai".into()))
    );
}

#[test]
fn sampling_and_veto_defaults_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(&write(dir.path(), "", "")).unwrap();
    assert_eq!(c.llm.temperature, 0.3);
    assert_eq!(c.llm.frequency_penalty, None);
    assert!(c.mailboxes[0].rules.model_may_veto);

    let c = load(&write(
        dir.path(),
        "temperature = 0\nfrequency_penalty = 0.5\n",
        "model_may_veto = false\n",
    ))
    .unwrap();
    assert_eq!(c.llm.temperature, 0.0);
    assert_eq!(c.llm.frequency_penalty, Some(0.5));
    assert!(!c.mailboxes[0].rules.model_may_veto);
}

#[test]
fn sampling_out_of_range_names_the_key() {
    for (llm, key) in [
        ("temperature = 2.5\n", "llm.temperature"),
        ("temperature = -1\n", "llm.temperature"),
        ("frequency_penalty = 3\n", "llm.frequency_penalty"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&write(dir.path(), llm, "")).unwrap_err();
        assert!(err.message.contains(key), "{llm}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let err = load(&write(dir.path(), "", "model_may_veto = \"no\"\n")).unwrap_err();
    assert!(err.message.contains("model_may_veto"), "{err}");
}

#[test]
fn bad_values_name_the_file_the_key_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "followup_business_days = 0\n");
    let err = load(&tend).unwrap_err();
    assert!(err.file.ends_with("mailboxes/a.toml"), "{err}");
    assert!(
        err.message.contains("`rules.followup_business_days`") && err.message.ends_with("(line 8)"),
        "{err}"
    );
    let text = std::fs::read_to_string(dir.path().join("mailboxes/a.toml")).unwrap();
    std::fs::write(
        dir.path().join("mailboxes/a.toml"),
        text.replace("UTC", "Mars/Olympus"),
    )
    .unwrap();
    let err = load(&tend).unwrap_err();
    assert!(
        err.message.contains("`timezone`") && err.message.ends_with("(line 2)"),
        "{err}"
    );
}

#[test]
fn a_missing_or_open_password_file_is_a_config_error() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "");
    let pw = dir.path().join("mailboxes/pw");
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = load(&tend).unwrap_err();
    assert!(
        err.message.contains("`imap.password_file`") && err.message.contains("chmod 600"),
        "{err}"
    );
    std::fs::remove_file(&pw).unwrap();
    let err = load(&tend).unwrap_err();
    assert!(
        err.message.contains("`imap.password_file`") && err.message.contains("line 6"),
        "{err}"
    );
}

#[test]
fn llm_http_to_a_non_loopback_host_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "");
    let text = std::fs::read_to_string(&tend).unwrap();
    for (url, ok) in [
        ("http://127.0.0.1:8080/v1", true),
        ("http://localhost/v1", true),
        ("http://[::1]:8080/v1", true),
        ("https://llm.example.com/v1", true),
        ("http://llm.example.com/v1", false),
        ("http://10.0.0.5:8000/v1", false),
        ("http://127.0.0.1@evil.example/v1", false),
        ("http://localhost.evil.example/v1", false),
    ] {
        std::fs::write(&tend, text.replace("http://127.0.0.1:1/v1", url)).unwrap();
        match load(&tend) {
            Ok(c) => assert!(ok, "{url} loaded: {:?}", c.llm.base_url),
            Err(err) => {
                assert!(!ok, "{url}: {err}");
                assert!(err.file.ends_with("tend.toml"), "{err}");
                assert!(
                    err.message.contains("`llm.base_url`") && err.message.contains("(line 2)"),
                    "{err}"
                );
            }
        }
    }
}

#[test]
fn own_addresses_are_validated_like_the_composer_does() {
    for bad in [
        "Alice <a@x.example>",
        "a b@x.example",
        "@localhost",
        "nobody",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let tend = write(dir.path(), "", "");
        let file = dir.path().join("mailboxes/a.toml");
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replace("a@x.example", bad)).unwrap();
        let err = load(&tend).unwrap_err();
        assert!(err.file.ends_with("mailboxes/a.toml"), "{bad}: {err}");
        assert!(
            err.message.contains("`addresses`") && err.message.ends_with("(line 1)"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn llm_ca_file_is_resolved_beside_tend_toml() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(&write(dir.path(), "ca_file = \"company-ca.pem\"\n", "")).unwrap();
    assert_eq!(c.llm.ca_file, Some(dir.path().join("company-ca.pem")));
    let c = load(&write(dir.path(), "", "")).unwrap();
    assert_eq!(c.llm.ca_file, None);
}

#[test]
fn timeout_seconds_zero_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(&write(dir.path(), "timeout_seconds = 0\n", "")).unwrap_err();
    assert!(err.message.contains("`llm.timeout_seconds`"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "");
    let file = dir.path().join("mailboxes/a.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replace("[rules]", "timeout_seconds = 0\n[rules]"),
    )
    .unwrap();
    let err = load(&tend).unwrap_err();
    assert!(
        err.message.contains("`imap.timeout_seconds`") && err.message.ends_with("(line 7)"),
        "{err}"
    );
}

#[test]
fn recipient_and_filter_rules_load() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(&write(
        dir.path(),
        "",
        "trusted_reply_to_domains = [\"@Buyer.Example\"]\n\
         always_human = [\"Purchasing@Buyer.Example\", \"partner.example\"]\n",
    ))
    .unwrap();
    let r = &c.mailboxes[0].rules;
    assert_eq!(r.trusted_reply_to_domains, ["buyer.example"]);
    assert!(r.trusts_reply_to_of("ceo@buyer.example"));
    assert!(r.is_always_human("purchasing+rfq@buyer.example"));
    assert!(r.is_always_human("anyone@de.partner.example"));
    assert!(!r.is_always_human("anna@buyer.example"));
    let dir = tempfile::tempdir().unwrap();
    let err = load(&write(dir.path(), "", "always_human = [\"a b\"]\n")).unwrap_err();
    assert!(err.message.contains("`rules.always_human`"), "{err}");
}

#[test]
fn plus_tags_and_internal_subdomains() {
    let me = Identity {
        addresses: vec!["alice@example.com".into()],
        internal_domains: vec!["example.com".into()],
    };
    assert!(me.is_own("Alice+Web@Example.com"));
    assert_eq!(
        me.own_address("alice+x@example.com"),
        Some("alice@example.com")
    );
    assert!(!me.is_own("alicex@example.com"));
    assert!(me.is_internal("bob@de.example.com"));
    assert!(!me.is_internal("bob@notexample.com"));
}

#[test]
fn line_numbers_find_dotted_keys_and_inline_tables() {
    let text = "addresses = [\"a@x.example\"]\nimap.host = \"h\"\n\n[rules]\n\
                \"followup_business_days\" = 0\n[folders]\nx = { timeout_seconds = 0 }\n";
    assert_eq!(
        locate(text, "key `imap.host`: bad".into()),
        "key `imap.host`: bad (line 2)"
    );
    assert_eq!(
        locate(text, "key `rules.followup_business_days`: bad".into()),
        "key `rules.followup_business_days`: bad (line 5)"
    );
    assert_eq!(
        locate(text, "key `folders.x.timeout_seconds`: bad".into()),
        "key `folders.x.timeout_seconds`: bad (line 7)"
    );
    assert_eq!(
        locate(text, "key `imap.port`: missing".into()),
        "key `imap.port`: missing"
    );
}

#[test]
fn followup_stops_on_defaults_to_the_thread_and_rejects_unknown_values() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(&write(dir.path(), "", "")).unwrap();
    assert_eq!(c.mailboxes[0].rules.followup_stops_on, StopsOn::Thread);
    let c = load(&write(dir.path(), "", "followup_stops_on = \"company\"\n")).unwrap();
    assert_eq!(c.mailboxes[0].rules.followup_stops_on, StopsOn::Company);
    let err = load(&write(dir.path(), "", "followup_stops_on = \"domain\"\n")).unwrap_err();
    assert!(err.message.contains("followup_stops_on"), "{err}");
}

#[test]
fn provider_defaults_to_openai_and_anthropic_has_its_own_url_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let c = load(&write(dir.path(), "", "")).unwrap();
    assert_eq!(c.llm.provider, Provider::OpenAi);
    assert_eq!(c.llm.max_retries, 2);
    // Anthropic without base_url: the public API.
    let tend = dir.path().join("tend.toml");
    std::fs::write(
        &tend,
        "[llm]\nprovider = \"anthropic\"\nmodel = \"claude-x\"\nmax_retries = 0\n",
    )
    .unwrap();
    let c = load(&tend).unwrap();
    assert_eq!(c.llm.provider, Provider::Anthropic);
    assert_eq!(c.llm.base_url, "https://api.anthropic.com");
    assert_eq!(c.llm.max_retries, 0);
    // OpenAI without base_url names the key.
    std::fs::write(&tend, "[llm]\nmodel = \"m\"\n").unwrap();
    let err = load(&tend).unwrap_err();
    assert!(err.message.contains("`llm.base_url`"), "{err}");
    for (llm, key) in [
        (
            "provider = \"anthropic\"\ntemperature = 1.5\n",
            "llm.temperature",
        ),
        (
            "provider = \"anthropic\"\nfrequency_penalty = 0.5\n",
            "llm.frequency_penalty",
        ),
        ("max_retries = 11\n", "llm.max_retries"),
        ("provider = \"gemini\"\n", "provider"),
    ] {
        let err = load(&write(dir.path(), llm, "")).unwrap_err();
        assert!(err.message.contains(key), "{llm}: {err}");
    }
}

#[test]
fn knowledge_file_is_read_whole_and_the_mailbox_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "");
    let shared = dir.path().join("offer.txt");
    std::fs::write(&shared, "Cable ties: EUR 4 per 100.\n").unwrap();
    let text = std::fs::read_to_string(&tend).unwrap();
    std::fs::write(&tend, format!("knowledge_file = \"offer.txt\"\n{text}")).unwrap();
    let config = load(&tend).unwrap();
    let k = config.mailboxes[0]
        .knowledge
        .as_ref()
        .expect("shared knowledge");
    assert_eq!(k.text, "Cable ties: EUR 4 per 100.\n");
    assert_eq!(k.file, shared);
    // The mailbox's own file replaces the shared one.
    std::fs::write(dir.path().join("mailboxes/mine.txt"), "PVC fittings only.").unwrap();
    let mb = dir.path().join("mailboxes/a.toml");
    let text = std::fs::read_to_string(&mb).unwrap();
    std::fs::write(&mb, format!("knowledge_file = \"mine.txt\"\n{text}")).unwrap();
    let config = load(&tend).unwrap();
    assert_eq!(
        config.mailboxes[0].knowledge.as_ref().unwrap().text,
        "PVC fittings only."
    );
}

#[test]
fn knowledge_file_too_big_or_unreadable_names_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "");
    let mb = dir.path().join("mailboxes/a.toml");
    let text = std::fs::read_to_string(&mb).unwrap();
    std::fs::write(&mb, format!("knowledge_file = \"big.txt\"\n{text}")).unwrap();
    std::fs::write(
        dir.path().join("mailboxes/big.txt"),
        "x".repeat(KNOWLEDGE_MAX + 1),
    )
    .unwrap();
    let err = load(&tend).unwrap_err();
    assert!(err.file.ends_with("a.toml"), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("key `knowledge_file`"), "{msg}");
    assert!(msg.contains("16 KiB") && msg.contains("(line 1)"), "{msg}");
    std::fs::remove_file(dir.path().join("mailboxes/big.txt")).unwrap();
    let err = load(&tend).unwrap_err().to_string();
    assert!(
        err.contains("key `knowledge_file`") && err.contains("cannot read"),
        "{err}"
    );
}

/// A tend.toml whose mailboxes folder holds only `files` (each written with a little text).
fn with_mailbox_files(files: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "");
    std::fs::remove_file(dir.path().join("mailboxes/a.toml")).unwrap();
    std::fs::remove_file(dir.path().join("mailboxes/pw")).unwrap();
    for f in files {
        std::fs::write(dir.path().join("mailboxes").join(f), "addresses = []\n").unwrap();
    }
    (dir, tend)
}

#[test]
fn an_empty_mailboxes_folder_is_a_config_error() {
    let (_dir, tend) = with_mailbox_files(&[]);
    let err = load(&tend).unwrap_err();
    assert!(err.file.ends_with("mailboxes"), "{err}");
    assert!(err.message.contains("no mailbox file (NAME.toml)"), "{err}");
}

#[test]
fn misnamed_mailbox_files_are_named_in_the_error() {
    let (_dir, tend) = with_mailbox_files(&["alice.conf", "alice.toml.bak"]);
    let err = load(&tend).unwrap_err().to_string();
    assert!(err.contains("ignored alice.conf, alice.toml.bak"), "{err}");
    assert!(err.contains("only files ending in .toml"), "{err}");
    assert!(!err.contains("example"), "{err}");
}

#[test]
fn a_sample_mailbox_file_is_called_an_example() {
    let (_dir, tend) = with_mailbox_files(&["example.toml.sample"]);
    let err = load(&tend).unwrap_err().to_string();
    assert!(
        err.contains("example.toml.sample is an example: copy it to NAME.toml"),
        "{err}"
    );
    assert!(!err.contains("ignored"), "{err}");
}

#[test]
fn a_sample_beside_a_mailbox_file_is_ignored_silently() {
    let dir = tempfile::tempdir().unwrap();
    let tend = write(dir.path(), "", "");
    std::fs::write(
        dir.path().join("mailboxes/example.toml.sample"),
        "not toml [",
    )
    .unwrap();
    assert_eq!(load(&tend).unwrap().mailboxes.len(), 1);
}
