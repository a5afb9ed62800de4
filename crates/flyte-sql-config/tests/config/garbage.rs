//! Deterministic property test: mutated and random URIs never make the parser (or the checks
//! after it) panic, and no error shows a password that is still intact in the input.

use flyte_sql_config::{ConnectionConfig, DatabaseUri, ResolvedSecrets, Target};

const MARKER: &str = "Pw0rdMARK";

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(bound).unwrap()).unwrap()
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Characters that matter to the grammar, plus a few that must not trip UTF-8 slicing.
const ALPHABET: &[char] = &[
    ':', '/', '@', '?', '&', '=', '[', ']', '%', '#', '+', ' ', '.', '-', '_', 'a', 'Z', '0', '9',
    'é', '😀', '\u{0}', '\n', '%', '2', 'F',
];

const TEMPLATES: &[&str] = &[
    "postgresql+psycopg2://app:{P}@db.internal:5432/analytics?sslmode=require",
    "postgres://u:{P}@[::1]:5432/d",
    "mysql+pymysql://root:{P}@127.0.0.1/shop?charset=utf8mb4&ssl_mode=REQUIRED",
    "mariadb://u:{P}@h",
    "sqlite:///x.db?password={P}&mode=ro",
    "postgresql://h/d?password={P}",
    "sqlite://u:{P}@h/x.db",
    "oracle://u:{P}@h/d",
];

/// The text that carries the password in a template, which mutations leave intact.
fn secret_segment(template: &str) -> String {
    if template.contains("password={P}") {
        format!("password={MARKER}")
    } else {
        format!(":{MARKER}@")
    }
}

fn char_boundaries(text: &str) -> Vec<usize> {
    text.char_indices()
        .map(|(index, _)| index)
        .chain([text.len()])
        .collect()
}

/// Applies one random edit outside `protected` (a byte range of `text`).
fn mutate(rng: &mut Rng, text: &str, protected: std::ops::Range<usize>) -> String {
    let outside: Vec<usize> = char_boundaries(text)
        .into_iter()
        .filter(|&index| index <= protected.start || index >= protected.end)
        .collect();
    let at = rng.pick(&outside);
    let mut out = text.to_owned();
    match rng.below(4) {
        0 => out.insert(at, rng.pick(ALPHABET)),
        1 => {
            // Delete the character starting at `at`, if it lies outside the segment.
            if let Some(c) = text[at..].chars().next()
                && (at + c.len_utf8() <= protected.start || at >= protected.end)
            {
                out.replace_range(at..at + c.len_utf8(), "");
            }
        }
        2 => {
            let pieces: &[&str] = &["://", "@", ":", "/", "?", "&&", "=", "[", "]", "%zz", "+x"];
            out.insert_str(at, rng.pick(pieces));
        }
        _ => {
            // Truncate, keeping the segment.
            if at >= protected.end {
                out.truncate(at);
            }
        }
    }
    out
}

/// Everything a parsed URI leads to must run without panicking.
fn exercise(parsed: &DatabaseUri) {
    let password_is_marker = match parsed.target() {
        Target::Postgres(server) | Target::Mysql(server) => server
            .password
            .as_ref()
            .is_some_and(|password| password.expose().contains(MARKER)),
        Target::Sqlite(_) => false,
    };
    if password_is_marker {
        assert!(!parsed.to_string().contains(MARKER), "{parsed}");
        assert!(!format!("{parsed:?}").contains(MARKER), "{parsed:?}");
        assert!(!format!("{:?}", parsed.target()).contains(MARKER));
    }
    let config = ConnectionConfig::new(parsed.as_written()).unwrap();
    let _ = config.connect_arg_warnings();
    let _ = config.check_connect_args();
    let _ = config.resolved_options(&ResolvedSecrets::default());
}

#[test]
fn mutated_uris_never_panic_nor_leak() {
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let mut errors = 0;
    for round in 0..4000 {
        let template = TEMPLATES[round % TEMPLATES.len()];
        let mut text = template.replace("{P}", MARKER);
        let segment = secret_segment(template);
        for _ in 0..1 + rng.below(4) {
            let start = text.find(&segment).unwrap();
            text = mutate(&mut rng, &text, start..start + segment.len());
        }
        assert!(text.contains(&segment));
        match DatabaseUri::parse(&text) {
            Ok(parsed) => exercise(&parsed),
            Err(error) => {
                errors += 1;
                assert!(!error.to_string().contains(MARKER), "{text:?}: {error}");
                assert!(
                    !format!("{error:?}").contains(MARKER),
                    "{text:?}: {error:?}"
                );
            }
        }
    }
    // The mutations reach both outcomes.
    assert!(errors > 500 && errors < 3900, "{errors} errors");
}

#[test]
fn random_text_never_panics() {
    let mut rng = Rng(0xC0FF_EE00_1234_5678);
    for _ in 0..4000 {
        let length = rng.below(40);
        let mut text: String = (0..length).map(|_| rng.pick(ALPHABET)).collect();
        if rng.below(2) == 0 {
            let schemes: &[&str] = &[
                "sqlite://",
                "postgresql://",
                "mysql://",
                "postgres+pg8000://",
            ];
            text.insert_str(0, rng.pick(schemes));
        }
        if let Ok(parsed) = DatabaseUri::parse(&text) {
            exercise(&parsed);
        }
    }
}
