//! Provider presets (`provider = "gmail"` in a mailbox file): the server, its security, how to
//! log in, the names its Sent and Drafts folders have where the server marks none, and for
//! Google and Microsoft the OAuth2 endpoints and scopes. A preset only fills keys the file
//! leaves out: every key written in the file wins.
//!
//! It does not check the values it fills (the usual validation does, as for written keys) and
//! knows nothing of a provider's behaviour beyond these keys.

use super::raw::{RawMailbox, RawOAuth2};

/// The OAuth2 side of a preset.
struct OAuth {
    token: &'static str,
    authorize: &'static str,
    device: Option<&'static str>,
    scopes: &'static [&'static str],
}

struct Preset {
    name: &'static str,
    host: &'static str,
    /// Used when the file gives neither `auth` nor a password key.
    auth: &'static str,
    sent: &'static [&'static str],
    drafts: &'static [&'static str],
    oauth: Option<OAuth>,
}

const PRESETS: &[Preset] = &[
    Preset {
        name: "gmail",
        host: "imap.gmail.com",
        auth: "oauth2",
        sent: &["[Gmail]/Sent Mail", "[Google Mail]/Sent Mail"],
        drafts: &["[Gmail]/Drafts", "[Google Mail]/Drafts"],
        // Google offers no device flow for mail scopes: the loopback redirect it is.
        oauth: Some(OAuth {
            token: "https://oauth2.googleapis.com/token",
            authorize: "https://accounts.google.com/o/oauth2/v2/auth",
            device: None,
            scopes: &["https://mail.google.com/"],
        }),
    },
    Preset {
        name: "microsoft365",
        host: "outlook.office365.com",
        auth: "oauth2",
        sent: &["Sent Items"],
        drafts: &["Drafts"],
        // The `common` tenant signs in personal (outlook.com) and work accounts alike.
        oauth: Some(OAuth {
            token: "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            authorize: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            device: Some("https://login.microsoftonline.com/common/oauth2/v2.0/devicecode"),
            scopes: &[
                "https://outlook.office.com/IMAP.AccessAsUser.All",
                "offline_access",
            ],
        }),
    },
    Preset {
        name: "fastmail",
        host: "imap.fastmail.com",
        auth: "password",
        sent: &["Sent"],
        drafts: &["Drafts"],
        oauth: None,
    },
    Preset {
        name: "icloud",
        host: "imap.mail.me.com",
        auth: "password",
        sent: &["Sent Messages"],
        drafts: &["Drafts"],
        oauth: None,
    },
    Preset {
        name: "yahoo",
        host: "imap.mail.yahoo.com",
        auth: "password",
        sent: &["Sent"],
        drafts: &["Draft"],
        oauth: None,
    },
];

/// Folder names a preset tries first where the server marks no Sent or Drafts folder.
#[derive(Debug, Default)]
pub(super) struct Fallbacks {
    pub(super) sent: Vec<String>,
    pub(super) drafts: Vec<String>,
}

/// Fills what `raw` leaves out from the preset `provider`.
pub(super) fn apply(provider: &str, raw: &mut RawMailbox) -> Result<Fallbacks, String> {
    let Some(p) = PRESETS.iter().find(|p| p.name == provider) else {
        let names: Vec<String> = PRESETS.iter().map(|p| format!("{:?}", p.name)).collect();
        return Err(format!(
            "key `provider`: {provider:?} is not one of {}; leave it out and give `imap.host` \
             for any other server",
            names.join(", ")
        ));
    };
    let imap = &mut raw.imap;
    imap.host.get_or_insert_with(|| p.host.to_string());
    imap.port.get_or_insert(993);
    imap.security.get_or_insert_with(|| "tls".to_string());
    let has_password = imap.password_file.is_some()
        || imap.password_command.is_some()
        || imap.password_credential.is_some();
    if imap.auth.is_none() && !has_password {
        imap.auth = Some(p.auth.to_string());
    }
    let oauth2 = imap.auth.as_deref() == Some("oauth2") && imap.oauth2_token_command.is_none();
    if let (true, Some(o)) = (oauth2, &p.oauth) {
        let t = imap.oauth2.get_or_insert_with(RawOAuth2::default);
        t.token_endpoint.get_or_insert_with(|| o.token.to_string());
        t.authorization_endpoint
            .get_or_insert_with(|| o.authorize.to_string());
        if t.device_authorization_endpoint.is_none() {
            t.device_authorization_endpoint = o.device.map(String::from);
        }
        t.scopes
            .get_or_insert_with(|| o.scopes.iter().map(|s| s.to_string()).collect());
    }
    let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect();
    Ok(Fallbacks {
        sent: names(p.sent),
        drafts: names(p.drafts),
    })
}

#[cfg(test)]
mod tests {
    use super::super::{load_mailbox, Auth, Security, TokenSource};
    use std::os::unix::fs::PermissionsExt;

    fn load(text: &str) -> Result<super::super::MailboxConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "secret\n").unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = dir.path().join("alice.toml");
        let head = "addresses = [\"alice@example.com\"]\ntimezone = \"UTC\"\n";
        std::fs::write(&file, format!("{head}{text}")).unwrap();
        load_mailbox(&file).map_err(|e| e.message)
    }

    const OAUTH_CLIENT: &str = "[imap.oauth2]\nclient_id = \"app\"\n";

    #[test]
    fn gmail_fills_server_oauth2_and_its_folder_names() {
        let mb = load(&format!(
            "provider = \"gmail\"\n[imap]\nusername = \"alice@example.com\"\n{OAUTH_CLIENT}"
        ))
        .unwrap();
        assert_eq!(
            (mb.imap.host.as_str(), mb.imap.port, mb.imap.security),
            ("imap.gmail.com", 993, Security::Tls)
        );
        let Auth::OAuth2(o) = &mb.imap.auth else {
            panic!("not oauth2: {:?}", mb.imap.auth)
        };
        let TokenSource::Refresh(c) = &o.source else {
            panic!("not a refresh token")
        };
        assert_eq!(c.token_endpoint, "https://oauth2.googleapis.com/token");
        assert_eq!(c.scopes, ["https://mail.google.com/"]);
        assert_eq!(c.device_authorization_endpoint, None);
        assert_eq!(mb.folders.drafts_fallbacks[0], "[Gmail]/Drafts");
        assert_eq!(mb.folders.sent_fallbacks[0], "[Gmail]/Sent Mail");
    }

    #[test]
    fn microsoft365_offers_the_device_flow_with_offline_access() {
        let mb = load(&format!(
            "provider = \"microsoft365\"\n[imap]\nusername = \"a@b.onmicrosoft.com\"\n{OAUTH_CLIENT}"
        ))
        .unwrap();
        assert_eq!(mb.imap.host, "outlook.office365.com");
        let Auth::OAuth2(o) = &mb.imap.auth else {
            panic!("not oauth2")
        };
        let TokenSource::Refresh(c) = &o.source else {
            panic!("not a refresh token")
        };
        assert_eq!(
            c.token_endpoint,
            "https://login.microsoftonline.com/common/oauth2/v2.0/token"
        );
        assert!(c.device_authorization_endpoint.is_some());
        assert_eq!(
            c.scope(),
            "https://outlook.office.com/IMAP.AccessAsUser.All offline_access"
        );
        assert_eq!(mb.folders.sent_fallbacks, ["Sent Items"]);
    }

    #[test]
    fn password_providers_fill_the_server_and_take_the_password() {
        for (provider, host) in [
            ("fastmail", "imap.fastmail.com"),
            ("icloud", "imap.mail.me.com"),
            ("yahoo", "imap.mail.yahoo.com"),
        ] {
            let mb = load(&format!(
                "provider = \"{provider}\"\n[imap]\nusername = \"alice\"\npassword_file = \"pw\"\n"
            ))
            .unwrap();
            assert_eq!(mb.imap.host, host);
            assert!(matches!(mb.imap.auth, Auth::Password(_)), "{provider}");
        }
    }

    #[test]
    fn an_explicit_key_wins_over_the_preset() {
        // A Gmail app password instead of OAuth2, another port, an own Drafts.
        let mb = load(
            "provider = \"gmail\"\n[imap]\nusername = \"alice\"\nport = 1993\n\
             password_file = \"pw\"\n[folders]\ndrafts = \"Entwürfe\"\n",
        )
        .unwrap();
        assert_eq!(mb.imap.port, 1993);
        assert!(matches!(mb.imap.auth, Auth::Password(_)));
        assert_eq!(mb.folders.drafts.as_deref(), Some("Entwürfe"));
        let mb = load(&format!(
            "provider = \"gmail\"\n[imap]\nhost = \"imap.example.com\"\nusername = \"a\"\n\
             {OAUTH_CLIENT}scopes = [\"https://example.com/mail\"]\n"
        ))
        .unwrap();
        assert_eq!(mb.imap.host, "imap.example.com");
        let Auth::OAuth2(o) = &mb.imap.auth else {
            panic!("not oauth2")
        };
        let TokenSource::Refresh(c) = &o.source else {
            panic!("not a refresh token")
        };
        assert_eq!(c.scopes, ["https://example.com/mail"]);
    }

    #[test]
    fn an_unknown_provider_names_the_key_and_the_choices() {
        let err = load("provider = \"gmial\"\n[imap]\nusername = \"a\"\n").unwrap_err();
        assert!(err.contains("`provider`"), "{err}");
        assert!(err.contains("\"gmial\""), "{err}");
        for p in ["gmail", "microsoft365", "fastmail", "icloud", "yahoo"] {
            assert!(err.contains(p), "{err}");
        }
    }
}
