//! Masking: what an example written to another company may keep, and hostile text.

use super::tests::{addr, me, ours};
use super::*;

#[test]
fn a_canary_in_an_example_to_another_company_never_survives() {
    let text = "Hi Anna,\n\nas promised: the price for the Canary pipes is EUR 1,234.50 per \
                pallet, 15% off from 40 pallets. Call Anna Kowalski on +49 30 9876543 or \
                (030) 555-0199, write to anna.kowalski@canary.example or see \
                https://canary.example/offer?id=77 and www.canary-deals.example. Quote \
                Q-2026-4471, delivery by 12.03.2026.\n\nBest,";
    let canaries = [
        "Anna",
        "Kowalski",
        "Canary",
        "canary",
        "1,234",
        "1234",
        "9876543",
        "555",
        "0199",
        "kowalski@",
        "https",
        "www",
        "4471",
        "2026",
        "15",
        "40",
        "77",
    ];
    let emails = vec![ours(
        "x1",
        "alice@shop.example",
        addr("Anna Kowalski", "anna.kowalski@canary.example"),
        text,
        1,
    )];
    let voice = learn(&emails, &me());
    let got = examples(&voice, Some("buyer@elsewhere.example"), None, 3);
    assert_eq!(got.len(), 1);
    let masked = &got[0].text;
    for c in canaries {
        assert!(!masked.contains(c), "{c:?} survived in {masked}");
    }
    for p in ["[name]", "[email]", "[phone]", "[url]", "[number]"] {
        assert!(masked.contains(p), "{p} missing from {masked}");
    }
    assert!(masked.starts_with("Hi [name],"), "{masked}");
    // The prompt section is what the model sees: the canary is not there either.
    let section = prompt_section(&voice, None, Some("buyer@elsewhere.example"), VOICE_BUDGET);
    assert!(section.contains("to another company"), "{section}");
    for c in ["Kowalski", "9876543", "canary.example", "1,234"] {
        assert!(!section.contains(c), "{c:?} survived in {section}");
    }
}

#[test]
fn masking_keeps_ordinary_words_and_their_punctuation() {
    assert_eq!(
        mask(
            "Hi Anna, see you at 10:30 (room 4).",
            &["Anna Buyer".into()]
        ),
        "Hi [name], see you at [number] (room [number])."
    );
    assert_eq!(
        mask("Dear Mr. Smith,\nwrite to <a@b.example>.", &[]),
        "Dear Mr. [name],\nwrite to <[email]>."
    );
    assert_eq!(
        mask("Annabel is not Anna.", &["Anna".into()]),
        "Annabel is not [name]."
    );
    assert_eq!(mask("Tel: 0171 2345678.", &[]), "Tel: [phone].");
    // A name after a title is a name, whoever it is.
    assert_eq!(
        mask("Herr Brandt und Ms. Wong kommen. Frau\nSchmidt nicht.", &[]),
        "Herr [name] und Ms. [name] kommen. Frau\nSchmidt nicht."
    );
}

#[test]
fn hostile_text_never_panics_the_voice() {
    let nasty = [
        "",
        "+",
        "/+",
        "/-+",
        "++++",
        "(((",
        "@",
        "@@.",
        "İhello",
        "Hİ İ,",
        "\u{feff}Hi\u{200b},",
        "0000000000000000000000000000",
        "+49 (((((0))))) 30",
        "a@b@c",
        "http://",
        "www.",
        "-- ",
        "--\n--\n--",
        "> quoted only",
        "Hi ,",
        "Hi\n\n\n",
        "Grüß Gott İstanbul,",
        "\u{0}\u{1}\u{7f}",
        "😀 Hi 😀,\n😀",
        "x.y",
        "..",
        "1.2.3.4.5.6.7.8.9",
    ];
    let mut emails = Vec::new();
    for (i, t) in nasty.iter().enumerate() {
        let _ = mask(t, &[t.to_string(), "İ".into(), "".into()]);
        let _ = habits::greeting(t, Some(t), Some("İ"));
        let _ = habits::greeted_name(t);
        let _ = habits::sign_off(t);
        let _ = habits::separator_block(t);
        let _ = detect_language(t);
        emails.push(ours(
            &format!("n{i}"),
            "alice@shop.example",
            addr(t, &format!("{t}@{t}")),
            t,
            i as i64,
        ));
    }
    let voice = learn(&emails, &me());
    let _ = examples(&voice, Some("@"), None, 3);
    let _ = prompt_section(&voice, Language::from_code("eng"), Some(""), 0);
}
