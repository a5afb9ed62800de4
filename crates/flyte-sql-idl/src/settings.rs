//! Serialization settings (flytekit's `SerializationSettings`) and container images: the
//! `ImageConfig`, image references and the `{{.image.NAME...}}` placeholders.

use crate::error::{Error, Result};

/// Where and as what a task is registered, and which images its placeholders refer to.
///
/// The counterpart of flytekit's `SerializationSettings`; there is deliberately no `Default`: a
/// project, domain and version are always a decision. `pyflyte package` leaves all three empty and
/// lets `flytectl register files` fill them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializationSettings {
    /// The Flyte project of the task's identifier.
    pub project: String,
    /// The Flyte domain of the task's identifier.
    pub domain: String,
    /// The version of the task's identifier.
    pub version: String,
    /// Environment variables for every task; a task's own environment wins on conflicts.
    pub env: Vec<(String, String)>,
    /// The images that `{{.image.NAME...}}` placeholders in a task's image refer to.
    pub image_config: ImageConfig,
}

/// The images known at serialization time (flytekit's `ImageConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// The image named `default` (what `--image FQN:TAG` without a name gives).
    ///
    /// As in the reference, it only fills `{{.image.default...}}` placeholders (and the version of
    /// images without one); a task without an image gets its runtime's default image, not this.
    pub default_image: Option<Image>,
    /// Further images, by name.
    pub images: Vec<Image>,
    /// The value of `FLYTE_INTERNAL_IMAGE`, which replaces the default image of a task that names
    /// none, whatever its runtime: the python runtime's as in the reference, and the native
    /// runtime's by the same rule; `None` when unset or empty. The caller reads the environment.
    pub internal_image: Option<String>,
}

impl ImageConfig {
    /// The image of that name, the default image included (flytekit's `find_image`).
    pub fn find_image(&self, name: &str) -> Option<&Image> {
        self.default_image
            .iter()
            .chain(&self.images)
            .find(|image| image.name == name)
    }
}

/// A named container image reference: `fqn:tag` or `fqn@digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The name placeholders use (`default` for the default image).
    pub name: String,
    /// The repository part, such as `ghcr.io/example/sql`.
    pub fqn: String,
    /// The tag or digest.
    pub version: ImageVersion,
}

/// How an [`Image`] pins its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageVersion {
    /// A tag, written after `:`.
    Tag(String),
    /// A digest such as `sha256:...`, written after `@`.
    Digest(String),
}

/// The name of the default image, as flytekit calls it.
pub const DEFAULT_IMAGE_NAME: &str = "default";

impl Image {
    /// Parses `fqn:tag` or `fqn@digest` as flytekit's `Image.look_up_image_info` does; a reference
    /// without a tag or digest is an error.
    pub fn parse(name: &str, reference: &str) -> Result<Image> {
        let invalid = || Error::InvalidImage {
            name: name.to_owned(),
            reference: reference.to_owned(),
        };
        if name.is_empty() {
            return Err(invalid());
        }
        if let Some((fqn, digest)) = reference.rsplit_once('@') {
            if fqn.is_empty() || digest.is_empty() {
                return Err(invalid());
            }
            return Ok(Image {
                name: name.to_owned(),
                fqn: fqn.to_owned(),
                version: ImageVersion::Digest(digest.to_owned()),
            });
        }
        match reference.rsplit_once(':') {
            Some((fqn, tag)) if !tag.contains('/') && !fqn.is_empty() && !tag.is_empty() => {
                Ok(Image {
                    name: name.to_owned(),
                    fqn: fqn.to_owned(),
                    version: ImageVersion::Tag(tag.to_owned()),
                })
            }
            _ => Err(invalid()),
        }
    }

    /// The tag or the digest.
    pub fn version(&self) -> &str {
        match &self.version {
            ImageVersion::Tag(version) | ImageVersion::Digest(version) => version,
        }
    }

    /// The full reference: `fqn:tag` or `fqn@digest`.
    pub fn full(&self) -> String {
        match &self.version {
            ImageVersion::Tag(tag) => format!("{}:{tag}", self.fqn),
            ImageVersion::Digest(digest) => format!("{}@{digest}", self.fqn),
        }
    }
}

/// Fills the `{{.image.NAME.fqn}}`, `{{.image.NAME.version}}` and `{{.image.NAME}}` placeholders
/// of an image string from the image config, as flytekit's `get_registerable_container_image`:
/// case-insensitive, `.images` accepted for `.image`, spaces allowed inside the braces, and a
/// digest version replaces a preceding `:` by `@`. A string without placeholders is returned as is.
pub fn resolve_image(image: &str, config: &ImageConfig) -> Result<String> {
    let mut resolved = image.to_owned();
    for placeholder in find_image_placeholders(image) {
        let unknown = || Error::UnknownImage {
            image: image.to_owned(),
            name: placeholder.name.clone(),
        };
        let found = config.find_image(&placeholder.name).ok_or_else(unknown)?;
        let replacement = match placeholder.attribute.as_deref() {
            None => found.full(),
            Some("fqn") => found.fqn.clone(),
            Some("version") => {
                let version = found.version();
                if version.contains(':') {
                    // A digest needs `@` before it where the image string wrote `:`.
                    let colon_prefixed = format!(":{}", placeholder.text);
                    if resolved.contains(&colon_prefixed) {
                        resolved = resolved.replace(&colon_prefixed, &format!("@{version}"));
                        continue;
                    }
                }
                version.to_owned()
            }
            Some(other) => {
                return Err(Error::InvalidImagePlaceholder {
                    image: image.to_owned(),
                    attribute: other.to_owned(),
                });
            }
        };
        resolved = resolved.replace(&placeholder.text, &replacement);
    }
    Ok(resolved)
}

/// One `{{ .image.NAME[.ATTRIBUTE] }}` occurrence.
#[derive(Debug)]
struct ImagePlaceholder {
    /// The whole placeholder as written.
    text: String,
    name: String,
    attribute: Option<String>,
}

/// Finds placeholders the way flytekit's `_IMAGE_REPLACE_REGEX` does:
/// `{{\s*\.image[s]?(?:\.([a-zA-Z0-9_-]+))(?:\.([a-zA-Z0-9_-]+))?\s*}}`, case-insensitive.
fn find_image_placeholders(image: &str) -> Vec<ImagePlaceholder> {
    let bytes = image.as_bytes();
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(offset) = image[start..].find("{{") {
        let open = start + offset;
        match match_placeholder(bytes, open) {
            Some((end, name, attribute)) => {
                found.push(ImagePlaceholder {
                    text: image[open..end].to_owned(),
                    name,
                    attribute,
                });
                start = end;
            }
            None => start = open + 1,
        }
    }
    found
}

/// Matches one placeholder starting at `open` (the first `{`); returns its end and its parts.
fn match_placeholder(bytes: &[u8], open: usize) -> Option<(usize, String, Option<String>)> {
    let mut at = open + 2;
    at = skip_whitespace(bytes, at);
    let keyword = b".image";
    let candidate = bytes.get(at..at + keyword.len())?;
    if !candidate.eq_ignore_ascii_case(keyword) {
        return None;
    }
    at += keyword.len();
    if bytes
        .get(at)
        .is_some_and(|byte| byte.eq_ignore_ascii_case(&b's'))
    {
        at += 1;
    }
    let (after_name, name) = match_segment(bytes, at)?;
    at = after_name;
    let attribute = match match_segment(bytes, at) {
        Some((after_attribute, attribute)) => {
            at = after_attribute;
            Some(attribute)
        }
        None => None,
    };
    at = skip_whitespace(bytes, at);
    if bytes.get(at..at + 2)? != b"}}" {
        return None;
    }
    Some((at + 2, name, attribute))
}

/// Matches `.` followed by one or more of `[a-zA-Z0-9_-]`.
fn match_segment(bytes: &[u8], at: usize) -> Option<(usize, String)> {
    if bytes.get(at) != Some(&b'.') {
        return None;
    }
    let start = at + 1;
    let mut end = start;
    while bytes
        .get(end)
        .is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_' || *byte == b'-')
    {
        end += 1;
    }
    (end > start).then(|| {
        (
            end,
            String::from_utf8_lossy(&bytes[start..end]).into_owned(),
        )
    })
}

/// Skips what Python's `\s` matches among ASCII bytes (placeholders are ASCII in practice).
fn skip_whitespace(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(|byte| {
        matches!(
            byte,
            b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f
        )
    }) {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    use expect_test::{Expect, expect};

    use super::*;

    fn config() -> ImageConfig {
        ImageConfig {
            default_image: Some(Image::parse("default", "ghcr.io/example/sql:latest").unwrap()),
            images: vec![
                Image::parse("pinned", "ghcr.io/example/pinned@sha256:abc").unwrap(),
                Image::parse("other", "localhost:5000/other:v2").unwrap(),
            ],
            internal_image: None,
        }
    }

    fn check(image: &str, expect: Expect) {
        let actual = match resolve_image(image, &config()) {
            Ok(resolved) => resolved,
            Err(error) => format!("error: {error}"),
        };
        expect.assert_eq(&actual);
    }

    #[test]
    fn plain_images_are_kept() {
        check("ghcr.io/x/y:1", expect!["ghcr.io/x/y:1"]);
        check("{{ not an image }}", expect!["{{ not an image }}"]);
    }

    #[test]
    fn placeholders_are_filled_like_flytekit() {
        check(
            "{{.image.default.fqn}}:{{.image.default.version}}",
            expect!["ghcr.io/example/sql:latest"],
        );
        check("{{.image.default}}", expect!["ghcr.io/example/sql:latest"]);
        check("{{ .IMAGES.other }}", expect!["localhost:5000/other:v2"]);
        check(
            "{{.image.other.fqn}}:abc",
            expect!["localhost:5000/other:abc"],
        );
        check(
            "{{.image.pinned.fqn}}:{{.image.pinned.version}}",
            expect!["ghcr.io/example/pinned@sha256:abc"],
        );
    }

    #[test]
    fn bad_placeholders_are_errors() {
        check(
            "{{.image.missing.fqn}}:1",
            expect![
                "error: image `{{.image.missing.fqn}}:1` refers to image `missing`, which the image config does not define: pass `--image missing=FQN:TAG`"
            ],
        );
        check(
            "{{.image.default.tag}}",
            expect![
                "error: image `{{.image.default.tag}}` uses `.tag`: only `.fqn`, `.version` or nothing may follow the image name"
            ],
        );
    }

    #[test]
    fn image_references_parse_like_flytekit() {
        let image = Image::parse("x", "localhost:5000/repo/name:1.2").unwrap();
        assert_eq!(
            (image.fqn.as_str(), image.version()),
            ("localhost:5000/repo/name", "1.2")
        );
        let image = Image::parse("x", "repo@sha256:00").unwrap();
        assert_eq!(image.full(), "repo@sha256:00");
        assert!(Image::parse("x", "localhost:5000/repo").is_err());
        assert!(Image::parse("x", "repo").is_err());
    }
}
