use super::*;

fn parse(line: &[u8]) -> Response<'_> {
    let (rest, resp) = Response::parse(line).expect("a response");
    assert!(rest.is_empty(), "left over: {rest:?}");
    resp
}

#[test]
fn a_fetch_counts_only_with_its_uid_and_the_item_asked_for() {
    assert_eq!(
        listed_uid(&parse(b"* 3 FETCH (UID 12 RFC822.SIZE 2048)\r\n")),
        Some((12, 2048))
    );
    // Unsolicited flag updates, with or without the UID, are not listing entries.
    assert_eq!(listed_uid(&parse(b"* 3 FETCH (FLAGS (\\Seen))\r\n")), None);
    assert_eq!(
        listed_uid(&parse(b"* 3 FETCH (UID 12 FLAGS (\\Seen))\r\n")),
        None
    );
    assert_eq!(listed_uid(&parse(b"* 4 EXISTS\r\n")), None);
    assert_eq!(
        fetched_body(&parse(b"* 3 FETCH (UID 12 FLAGS (\\Seen))\r\n")),
        None
    );
    // A body without the UID cannot be placed: not counted either.
    assert_eq!(
        fetched_body(&parse(b"* 3 FETCH (BODY[]<0> {2}\r\nhi)\r\n")),
        None
    );
}

#[test]
fn a_fetched_body_keeps_its_uid_date_and_bytes() {
    let resp = parse(
        b"* 1 FETCH (UID 7 INTERNALDATE \" 2-Jun-2025 10:00:00 +0200\" BODY[]<0> {5}\r\nHello)\r\n",
    );
    assert_eq!(
        fetched_body(&resp),
        Some(Body::Fetched(Fetched {
            uid: 7,
            raw: b"Hello".to_vec(),
            internal_date: Some(1_748_851_200),
        }))
    );
    assert_eq!(
        fetched_body(&parse(b"* 1 FETCH (UID 7 BODY[] NIL)\r\n")),
        Some(Body::Nil(7))
    );
}

#[test]
fn search_and_list_and_capability_answers_are_read() {
    assert_eq!(search_hits(&parse(b"* SEARCH 4 9\r\n")), Some(vec![4, 9]));
    assert_eq!(search_hits(&parse(b"* SEARCH\r\n")), Some(vec![]));
    assert_eq!(search_hits(&parse(b"* 2 EXPUNGE\r\n")), None);
    let entry = list_entry(&parse(
        b"* LIST (\\HasNoChildren) \"/\" \"Entw&APw-rfe\"\r\n",
    ))
    .expect("a LIST entry");
    assert_eq!(entry.name, "Entwürfe");
    assert_eq!(entry.wire, "Entw&APw-rfe");
    assert_eq!(entry.delimiter.as_deref(), Some("/"));
    let noselect = list_entry(&parse(b"* LIST (\\Noselect) \".\" \"Archive\"\r\n")).unwrap();
    assert_eq!(noselect.attributes, ["\\Noselect"]);
    // Not valid modified UTF-7: kept as sent.
    assert_eq!(
        list_entry(&parse(b"* LIST () \"/\" \"a&b\"\r\n"))
            .unwrap()
            .name,
        "a&b"
    );
    assert_eq!(
        offers(&parse(b"* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n"), "IDLE"),
        Some(true)
    );
    assert_eq!(
        offers(&parse(b"* CAPABILITY IMAP4rev1\r\n"), "IDLE"),
        Some(false)
    );
}

#[test]
fn appenduid_is_read_from_the_tagged_ok() {
    let Response::Done { outcome, .. } =
        parse(b"A0005 OK [APPENDUID 38505 3955] APPEND completed\r\n")
    else {
        panic!("a completion");
    };
    assert_eq!(done_code(&outcome).append_uid, Some((38505, 3955)));
    let Response::Done { outcome, .. } = parse(b"A0005 OK APPEND completed\r\n") else {
        panic!("a completion");
    };
    assert_eq!(done_code(&outcome).append_uid, None);
    assert_eq!(
        status_uid_next(&parse(b"* STATUS Sent (UIDNEXT 44)\r\n")),
        Some(44)
    );
    let header = fetched_header(&parse(
        b"* 2 FETCH (UID 9 FLAGS (\\Seen \\Deleted) BODY[HEADER.FIELDS (MESSAGE-ID)] {8}\r\nA: b\r\n\r\n)\r\n",
    ));
    let header = header.expect("a header");
    assert_eq!((header.uid, header.deleted), (9, true));
    assert_eq!(header.raw, b"A: b\r\n\r\n");
}

#[test]
fn refusals_keep_the_servers_words() {
    let Response::Done { outcome, .. } =
        parse(b"A0004 NO [UNAVAILABLE] Some messages could not be FETCHed\r\n")
    else {
        panic!("a completion");
    };
    let text = words(&outcome);
    assert!(text.contains("[UNAVAILABLE] Some messages"), "{text}");
    let gone = Refused {
        command: "UID FETCH 4".into(),
        status: "NO",
        text: "[EXPUNGEISSUED] Some of the requested messages no longer exist".into(),
    };
    assert!(gone.expunge_issued());
    assert_eq!(
        gone.to_string(),
        "the server answered NO to UID FETCH 4: [EXPUNGEISSUED] Some of the requested messages no longer exist"
    );
}
