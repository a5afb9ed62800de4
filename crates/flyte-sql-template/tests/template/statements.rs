//! The statement property: for generated templates with comments, literals, quoted
//! placeholders, bind markers of the user's own and `;` in every position, on every dialect,
//! either the task is refused when defined, or the statement has exactly the template's binds in
//! the template's order, each at a marker of the dialect's form.
//!
//! The generator builds templates from pieces whose meaning in each dialect is written down by
//! hand (independently of the lexer): which ones bind, which are refused, which are code or only
//! comments. The expected binds and refusals follow from the pieces alone.

use flyte_sql_model::{InputValues, Interpolation, PrimitiveType, Value};
use flyte_sql_template::{Dialect, Error, Statement, check_query, render};

use crate::support::Rng;

/// A piece of a template: its text (`§` is where a value placeholder goes, `¤` an identifier
/// placeholder) and what it means in SQLite, PostgreSQL and MySQL, one letter per event: `C` code
/// that binds nothing, `T` only comments, `B` a bind, `L` a bind that is a `LIMIT`/`OFFSET` count,
/// `S` a `;`, `R` refused when the task is defined.
struct Piece {
    text: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    mysql: &'static str,
}

const fn piece(
    text: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    mysql: &'static str,
) -> Piece {
    Piece {
        text,
        sqlite,
        postgres,
        mysql,
    }
}

const PIECES: &[Piece] = &[
    piece("select", "C", "C", "C"),
    piece("x =", "C", "C", "C"),
    piece(",", "C", "C", "C"),
    piece("§", "B", "B", "B"),
    piece("'§'", "B", "B", "B"),
    piece("\"§\"", "R", "R", "B"),
    piece("'a§'", "R", "R", "R"),
    piece("'§''s'", "R", "R", "R"),
    piece("N'§'", "R", "R", "R"),
    piece("E'§'", "R", "R", "R"),
    piece("`§`", "R", "CBC", "R"),
    piece("[§]", "R", "CBC", "CBC"),
    piece("-- §\n", "R", "R", "R"),
    piece("--§\n", "R", "R", "CB"),
    piece("# §\n", "CB", "CB", "R"),
    piece("/* § */", "R", "R", "R"),
    piece("/* /* */ § */", "TBC", "R", "TBC"),
    piece("/*! § */", "R", "R", "CBC"),
    piece("$$ § $$", "CBC", "R", "CBC"),
    piece("'\\' § '\\'", "CBC", "CBC", "R"),
    piece("x§", "CB", "CB", "CB"),
    piece("§1", "BC", "BC", "BC"),
    piece("$§", "CB", "CB", "CB"),
    piece("'?' '$1' '--' ';' '/*'", "C", "C", "C"),
    piece("-- ? $1 ; :x '\n", "T", "T", "T"),
    piece("/* ? ; ' */", "T", "T", "T"),
    piece("# ?\n", "R", "C", "T"),
    piece("?", "R", "C", "R"),
    piece("$1", "R", "R", "C"),
    piece(":x", "R", "C", "C"),
    piece("?1", "R", "C", "R"),
    piece("a::int", "R", "C", "C"),
    piece(";", "S", "S", "S"),
    piece("¤", "C", "C", "C"),
    piece("'¤'", "R", "R", "R"),
    piece("limit §", "CL", "CL", "CL"),
    piece("offset '§'", "CL", "CL", "CL"),
    piece("limit 1, §", "CL", "CL", "CL"),
];

const NAMES: &[&str] = &["a", "b", "c"];

const SEPARATORS: &[&str] = &[" ", "\n", "\t"];

/// A generated template and, per dialect, what it must become.
struct Case {
    template: String,
    /// For each piece, its event letters and the name of its placeholder.
    events: Vec<(&'static Piece, &'static str)>,
}

impl Case {
    fn generate(rng: &mut Rng) -> Case {
        let mut template = String::new();
        let mut events = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let piece = rng.pick(PIECES);
            let name = *rng.pick(NAMES);
            let spelling = rng.pick(&[
                "{{ .inputs.NAME }}",
                "{{.inputs.NAME}}",
                "{{ .INPUTS.NAME\t}}",
            ]);
            let value = spelling.replace("NAME", name);
            let text = piece
                .text
                .replace('§', &value)
                .replace('¤', "{{ .inputs.t | identifier }}");
            template.push_str(&text);
            let separator = rng.pick(SEPARATORS);
            template.push_str(separator);
            events.push((piece, name));
        }
        Case { template, events }
    }

    /// `None` when the template must be refused in `dialect`, else the expected binds: the
    /// input name and whether it is a `LIMIT`/`OFFSET` count, in marker order.
    fn expected(&self, dialect: Dialect) -> Option<Vec<(&'static str, bool)>> {
        let mut binds = Vec::new();
        let mut after_semicolon = false;
        for (piece, name) in &self.events {
            let letters = match dialect {
                Dialect::Sqlite => piece.sqlite,
                Dialect::Postgres => piece.postgres,
                Dialect::Mysql => piece.mysql,
            };
            for letter in letters.chars() {
                match letter {
                    'R' => return None,
                    'S' => after_semicolon = true,
                    'T' => {}
                    _ if after_semicolon => return None,
                    'B' => binds.push((*name, false)),
                    'L' => binds.push((*name, true)),
                    _ => {}
                }
            }
        }
        Some(binds)
    }

    fn uses_identifier(&self) -> bool {
        self.template.contains("| identifier")
    }
}

fn random_value(rng: &mut Rng) -> Value {
    match rng.below(4) {
        0 => Value::Integer(rng.between(-5, 5)),
        1 => Value::String("x' or '1'='1; -- ?".to_owned()),
        2 => Value::Null(*rng.pick(&PrimitiveType::ALL)),
        _ => Value::Boolean(true),
    }
}

fn check_statement(
    case: &Case,
    dialect: Dialect,
    statement: &Statement,
    expected: &[(&str, bool)],
) {
    let context = || format!("{dialect} {:?} -> {:?}", case.template, statement.sql);
    let markers = statement.markers();
    assert_eq!(markers.len(), expected.len(), "{}", context());
    for (index, (marker, (name, limit_count))) in markers.iter().zip(expected).enumerate() {
        let bind = &statement.binds[marker.bind];
        assert_eq!(bind.name, *name, "{}", context());
        assert_eq!(marker.limit_count, *limit_count, "{}", context());
        let text = &statement.sql[marker.range.clone()];
        match dialect {
            Dialect::Postgres => assert_eq!(text, format!("${}", marker.bind + 1), "{}", context()),
            Dialect::Sqlite | Dialect::Mysql => {
                assert_eq!(text, "?", "{}", context());
                assert_eq!(marker.bind, index, "{}", context());
            }
        }
    }
    match dialect {
        // PostgreSQL numbers each input once, in order of first appearance.
        Dialect::Postgres => {
            let mut distinct: Vec<&str> = Vec::new();
            for (name, _) in expected {
                if !distinct.contains(name) {
                    distinct.push(name);
                }
            }
            let names: Vec<&str> = statement
                .binds
                .iter()
                .map(|bind| bind.name.as_str())
                .collect();
            assert_eq!(names, distinct, "{}", context());
        }
        Dialect::Sqlite | Dialect::Mysql => assert_eq!(statement.binds.len(), expected.len()),
    }
}

#[test]
fn statements_have_the_templates_binds_in_order_or_are_refused_when_defined() {
    let mut rng = Rng::new(8);
    let (mut rendered, mut refused) = (0, 0);
    for _ in 0..4_000 {
        let case = Case::generate(&mut rng);
        let mut inputs: InputValues = InputValues::new();
        for (piece, name) in &case.events {
            if piece.text.contains('§') {
                inputs.insert((*name).to_owned(), random_value(&mut rng));
            }
        }
        if case.uses_identifier() {
            inputs.insert("t".to_owned(), Value::String("tab".to_owned()));
        }
        for dialect in Dialect::ALL {
            let defined = check_query(&case.template, Interpolation::Safe, dialect);
            let result = render(&case.template, Interpolation::Safe, dialect, &inputs);
            match case.expected(dialect) {
                None => {
                    let error = defined.expect_err(&format!(
                        "{dialect} {:?} must be refused when defined",
                        case.template
                    ));
                    assert!(
                        !matches!(error, Error::MarkersMoved { .. }),
                        "{dialect} {:?}: {error}",
                        case.template
                    );
                    assert_eq!(result.err(), Some(error));
                    refused += 1;
                }
                Some(expected) => {
                    defined.unwrap_or_else(|error| {
                        panic!("{dialect} {:?} refused: {error}", case.template)
                    });
                    let statement = result
                        .unwrap_or_else(|error| panic!("{dialect} {:?}: {error}", case.template))
                        .statement;
                    check_statement(&case, dialect, &statement, &expected);
                    rendered += 1;
                }
            }
        }
    }
    assert!(
        rendered > 2_000 && refused > 2_000,
        "{rendered} rendered, {refused} refused: the generator must exercise both"
    );
}
