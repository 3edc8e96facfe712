//! Unit tests for [`super::parse`] as a whole: hostile input never panics, malformed input is an
//! error, and message ids and addresses come out right.

use super::*;

fn must_not_panic(raw: &[u8]) {
    let _ = parse(raw);
}

#[test]
fn empty_input_is_an_error() {
    assert!(parse(b"").is_err());
    assert!(parse(b"\r\n\r\n").is_err());
}

#[test]
fn garbage_never_panics() {
    // A small deterministic PRNG (xorshift) keeps the test pure and reproducible.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in [1usize, 7, 64, 513, 4096, 65_537] {
        for _ in 0..8 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            must_not_panic(&bytes);
        }
    }
    for s in [
        &b"From:"[..],
        b":",
        b"\n\n\n",
        b"From: <",
        b"From: =?utf-8?q?",
        b"Subject: =?utf-8?b?////?=\n\nx",
        b"Content-Type: multipart/mixed; boundary=\"\"\n\n--\n--",
        b"Content-Type: multipart/mixed; boundary=a\n\n--a\n--a\n--a--",
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999\nFrom: a@b\n\nx",
        b"References: <<<<>>>> (((( \"\n\nx",
        b"Content-Type: text/html\n\n<<<<<</div/p<br",
        b"Content-Type: text/plain; format=flowed; delsp=yes\n\n \n> \n>>> x \n-- \n",
    ] {
        must_not_panic(s);
    }
}

#[test]
fn truncated_headers() {
    let full = b"From: Ann <ann@example.com>\r\nTo: bob@example.com\r\nSubject: Hi there\r\nMessage-ID: <abc@example.com>\r\nContent-Type: multipart/alternative; boundary=\"xyz\"\r\n\r\n--xyz\r\nContent-Type: text/plain\r\n\r\nHello\r\n--xyz--\r\n";
    for end in 0..full.len() {
        must_not_panic(&full[..end]);
    }
    let e = parse(&full[..40]).unwrap();
    assert_eq!(e.from.unwrap().email, "ann@example.com");
}

#[test]
fn header_only_message() {
    let e = parse(b"From: Ann <Ann@Example.COM>\r\nSubject: no body\r\n").unwrap();
    assert_eq!(e.text, "");
    assert_eq!(e.new_text, "");
    assert_eq!(e.subject, "no body");
    assert!(e.message_id.ends_with("@tend.invalid"));
    assert_eq!(
        e.from,
        Some(Addr {
            name: Some("Ann".into()),
            email: "ann@example.com".into()
        })
    );
}

#[test]
fn deeply_nested_multiparts() {
    let depth = 5000;
    let mut raw = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
    for i in 0..depth {
        raw.extend_from_slice(
            format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n")
                .as_bytes(),
        );
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ninnermost\r\n");
    for i in (0..depth).rev() {
        raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    must_not_panic(&raw);

    let mut raw = b"From: a@example.com\r\nSubject: deep\r\n".to_vec();
    for _ in 0..20_000 {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: inner\r\n\r\nbody\r\n");
    assert!(parse(&raw).is_err());

    // Nesting up to the limit still parses (and does not overflow the test thread's stack).
    let mut raw = b"From: a@example.com\r\nSubject: fwd\r\n".to_vec();
    for _ in 0..MAX_NESTED_MESSAGES {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: inner\r\n\r\nbody\r\n");
    assert!(parse(&raw).is_ok());

    // Body text that talks about message/rfc822 is not nesting.
    let mut raw = b"From: a@example.com\r\nSubject: links\r\n\r\n".to_vec();
    for i in 0..1000 {
        raw.extend_from_slice(
            format!("https://forum.example/message/{i} (message/rfc822)\r\n").as_bytes(),
        );
    }
    assert!(parse(&raw).is_ok());
}

#[test]
fn synthetic_id_is_deterministic() {
    let raw = b"From: a@example.com\r\n\r\nhi\r\n";
    let a = parse(raw).unwrap().message_id;
    assert_eq!(a, parse(raw).unwrap().message_id);
    assert_eq!(a.len(), 32 + "@tend.invalid".len());
    assert_ne!(
        a,
        parse(b"From: a@example.com\r\n\r\nho\r\n")
            .unwrap()
            .message_id
    );
}

#[test]
fn ids_tolerate_junk() {
    let table: &[(&str, &[&str])] = &[
        ("<a@b>", &["a@b"]),
        ("<a@b> <c@d>", &["a@b", "c@d"]),
        ("<a@b>,<c@d>", &["a@b", "c@d"]),
        ("a@b c@d", &["a@b", "c@d"]),
        ("<a@b> (Ann's message of \"Mon\") <c@d>", &["a@b", "c@d"]),
        ("Your message of Mon, 3 Jun <x@y>", &["x@y"]),
        ("<a@\r\n b>", &["a@b"]),
        ("", &[]),
        ("junk", &[]),
    ];
    for (input, want) in table {
        assert_eq!(extract_ids(input), *want, "input {input:?}");
    }
}
