//! The rendered files load as `config` loads them, with the chosen values, and a value that
//! needs TOML escaping stays that value.

use super::*;
use crate::config::{self, Auth, Provider, Secret, Security, TokenSource};
use std::path::Path;

fn mailbox(server: Server, login: Login) -> String {
    let m = Mailbox {
        name: "bob",
        address: "bob@acme.test",
        domain: Some("acme.test"),
        timezone: "Europe/Berlin",
        server,
        username: "bob \"the\" user\\x",
        login,
        credentials: "/etc/tend/credentials",
    };
    mailbox_file(&m, "/etc/tend/mailboxes/bob.toml").unwrap()
}

fn load(dir: &Path, text: &str) -> config::MailboxConfig {
    let file = dir.join("bob.toml");
    std::fs::write(&file, text).unwrap();
    config::load_mailbox(&file).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn a_password_mailbox_on_its_own_server_loads_with_the_answers() {
    let dir = tempfile::tempdir().unwrap();
    let own = Server::Own {
        host: "127.0.0.1".into(),
        port: 1143,
        security: "plain",
    };
    let text = mailbox(own, Login::Password);
    let mb = load(dir.path(), &text);
    assert_eq!(mb.identity.addresses, ["bob@acme.test"]);
    assert_eq!(mb.identity.internal_domains, ["acme.test"]);
    assert_eq!(mb.imap.host, "127.0.0.1");
    assert_eq!(mb.imap.port, 1143);
    assert_eq!(mb.imap.security, Security::Plain);
    assert_eq!(mb.imap.username, "bob \"the\" user\\x");
    assert_eq!(
        mb.imap.auth,
        Auth::Password(Secret::Credential("tend_bob".into()))
    );
    assert_eq!(mb.display_name, None);
    assert_eq!(mb.signature, None);
    assert!(
        text.contains("#   password_file = \"/etc/tend/credentials/bob\""),
        "{text}"
    );
    assert!(text.starts_with("# /etc/tend/mailboxes/bob.toml: one watched mailbox"));
}

#[test]
fn a_preset_mailbox_leaves_the_server_to_the_preset() {
    let dir = tempfile::tempdir().unwrap();
    let login = Login::OAuth2 {
        client_id: "id-1".into(),
        has_secret: true,
        endpoints: None,
    };
    let mb = load(dir.path(), &mailbox(Server::Preset("gmail"), login));
    assert_eq!(mb.imap.host, "imap.gmail.com");
    assert_eq!(mb.imap.security, Security::Tls);
    let Auth::OAuth2(o) = &mb.imap.auth else {
        panic!("{:?}", mb.imap.auth)
    };
    let TokenSource::Refresh(client) = &o.source else {
        panic!("{o:?}")
    };
    assert_eq!(client.client_id, "id-1");
    assert_eq!(
        client.client_secret,
        Some(Secret::Credential("tend_bob_oauth".into()))
    );
    assert!(client.authorization_endpoint.is_some());
}

#[test]
fn an_oauth2_mailbox_on_its_own_server_names_its_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let own = Server::Own {
        host: "imap.acme.test".into(),
        port: 993,
        security: "tls",
    };
    let login = Login::OAuth2 {
        client_id: "id-2".into(),
        has_secret: false,
        endpoints: Some(Endpoints {
            token: "https://id.acme.test/token".into(),
            authorization: None,
            device: Some("https://id.acme.test/device".into()),
            scopes: vec!["mail".into(), "offline".into()],
        }),
    };
    let mb = load(dir.path(), &mailbox(own, login));
    let Auth::OAuth2(o) = &mb.imap.auth else {
        panic!("{:?}", mb.imap.auth)
    };
    let TokenSource::Refresh(client) = &o.source else {
        panic!("{o:?}")
    };
    assert_eq!(client.token_endpoint, "https://id.acme.test/token");
    assert_eq!(
        client.device_authorization_endpoint.as_deref(),
        Some("https://id.acme.test/device")
    );
    assert_eq!(client.authorization_endpoint, None);
    assert_eq!(client.scopes, ["mail", "offline"]);
    assert_eq!(client.client_secret, None);
}

#[test]
fn tend_toml_keeps_its_comments_and_says_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = Model {
        provider: "anthropic",
        base_url: "https://api.anthropic.com",
        model: "claude-x",
        key_file: Some("anthropic"),
        credentials: "/etc/tend/credentials",
    };
    let text = tend_toml(&m, "/etc/tend/tend.toml").unwrap();
    let llm = config::llm_of_text(&text, dir.path()).unwrap();
    assert_eq!(llm.provider, Provider::Anthropic);
    assert_eq!(llm.model, "claude-x");
    assert_eq!(
        llm.api_key,
        Some(Secret::Credential("tend_anthropic".into()))
    );
    assert!(text.contains("# Which protocol the model server speaks"));
    let local = Model {
        provider: "openai",
        base_url: "http://127.0.0.1:11434/v1",
        model: "llama3.2",
        key_file: None,
        credentials: "/etc/tend/credentials",
    };
    let text = tend_toml(&local, "/etc/tend/tend.toml").unwrap();
    let llm = config::llm_of_text(&text, dir.path()).unwrap();
    assert_eq!(llm.base_url, "http://127.0.0.1:11434/v1");
    assert_eq!(llm.api_key, None);
}

#[test]
fn a_line_is_replaced_only_where_it_is_a_whole_line() {
    let mut t = "a = 1\n# a = 1\na = 10\n".to_string();
    set(&mut t, "a = 1", "a = 2").unwrap();
    assert_eq!(t, "a = 2\n# a = 1\na = 10\n");
    assert!(set(&mut t, "b = 1", "b = 2").is_err());
}
