//! Default container images: the reference's `SQLAlchemyDefaultImages` for the python runtime,
//! and ours for the native runtime, under the same rules (`FLYTE_INTERNAL_IMAGE` wins, a
//! development version is tagged `latest`).

use std::fmt;

/// The flytekit release whose plugin flyte-sql reproduces; its version names the default python
/// image, as `SQLAlchemyDefaultImages` does when imported under that flytekit.
pub const REFERENCE_FLYTEKIT_VERSION: &str = "1.16.31";

/// The repository of our executor image; the native runtime's default image is this repository
/// tagged with the flyte-sql version ([`default_native_image`]).
pub const NATIVE_IMAGE_REPOSITORY: &str = "ghcr.io/flyte-sql/flyte-sql";

/// The Python versions `SQLAlchemyDefaultImages` has an image for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PythonVersion {
    /// Python 3.8.
    Py38,
    /// Python 3.9.
    Py39,
    /// Python 3.10.
    Py310,
    /// Python 3.11, the Python of the reference's default image.
    Py311,
    /// Python 3.12.
    Py312,
}

impl PythonVersion {
    /// Every version with an image, oldest first.
    pub const ALL: [PythonVersion; 5] = [
        PythonVersion::Py38,
        PythonVersion::Py39,
        PythonVersion::Py310,
        PythonVersion::Py311,
        PythonVersion::Py312,
    ];

    /// The version as `major.minor`.
    pub fn as_str(self) -> &'static str {
        match self {
            PythonVersion::Py38 => "3.8",
            PythonVersion::Py39 => "3.9",
            PythonVersion::Py310 => "3.10",
            PythonVersion::Py311 => "3.11",
            PythonVersion::Py312 => "3.12",
        }
    }

    /// The version for `major.minor` text; `None` for a Python without an image (the reference
    /// raises ValueError there).
    pub fn parse(text: &str) -> Option<PythonVersion> {
        PythonVersion::ALL
            .into_iter()
            .find(|version| version.as_str() == text)
    }
}

impl fmt::Display for PythonVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `SQLAlchemyDefaultImages.find_image_for`: the stock plugin image for a Python version.
///
/// `internal_image` is the value of `FLYTE_INTERNAL_IMAGE` (read by the caller; this crate does no
/// IO): when present and non-empty it is returned verbatim. Otherwise the image is
/// `cr.flyte.org/flyteorg/flytekit:py<python>-sqlalchemy-` followed by `flytekit_version` with
/// every `v` removed, or by [`get_version_suffix`] of [`REFERENCE_FLYTEKIT_VERSION`] when none is
/// given.
pub fn find_image_for(
    python: PythonVersion,
    flytekit_version: Option<&str>,
    internal_image: Option<&str>,
) -> String {
    if let Some(image) = internal_image.filter(|image| !image.is_empty()) {
        return image.to_owned();
    }
    let suffix = match flytekit_version {
        Some(version) => version.replace('v', ""),
        None => get_version_suffix(REFERENCE_FLYTEKIT_VERSION).to_owned(),
    };
    format!("cr.flyte.org/flyteorg/flytekit:py{python}-sqlalchemy-{suffix}")
}

/// `DefaultImages.get_version_suffix` for a given flytekit version: the version itself, or
/// `latest` when it is empty or a development build (contains `dev`).
pub fn get_version_suffix(flytekit_version: &str) -> &str {
    if flytekit_version.is_empty() || flytekit_version.contains("dev") {
        "latest"
    } else {
        flytekit_version
    }
}

/// The python runtime's default image: what the reference's `SQLAlchemyTask` defaults to when
/// imported under Python 3.11 and flytekit [`REFERENCE_FLYTEKIT_VERSION`]
/// (`cr.flyte.org/flyteorg/flytekit:py3.11-sqlalchemy-1.16.31`), or `internal_image` when given.
pub fn default_python_image(internal_image: Option<&str>) -> String {
    find_image_for(PythonVersion::Py311, None, internal_image)
}

/// The native runtime's default image: [`NATIVE_IMAGE_REPOSITORY`] tagged with this crate's
/// version, so that a task runs under the executor release that serialized it; a development
/// version (empty or containing `dev`) is tagged `latest`, as [`get_version_suffix`] says.
pub fn default_native_image() -> String {
    native_image_tagged(env!("CARGO_PKG_VERSION"))
}

/// The image of a native-runtime task that names none: `internal_image` (the value of
/// `FLYTE_INTERNAL_IMAGE`, read by the caller) when present and non-empty, as
/// [`find_image_for`] does for the python runtime; otherwise [`default_native_image`].
pub(crate) fn find_native_image(internal_image: Option<&str>) -> String {
    match internal_image.filter(|image| !image.is_empty()) {
        Some(image) => image.to_owned(),
        None => default_native_image(),
    }
}

/// [`NATIVE_IMAGE_REPOSITORY`] tagged with [`get_version_suffix`] of a flyte-sql version.
fn native_image_tagged(version: &str) -> String {
    format!("{NATIVE_IMAGE_REPOSITORY}:{}", get_version_suffix(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_suffix_maps_development_builds_to_latest() {
        assert_eq!(get_version_suffix("1.16.31"), "1.16.31");
        for development in ["1.17.0.dev3+g123", "", "0.0.0+develop"] {
            assert_eq!(get_version_suffix(development), "latest");
        }
    }

    #[test]
    fn python_versions_round_trip() {
        for version in PythonVersion::ALL {
            assert_eq!(PythonVersion::parse(version.as_str()), Some(version));
        }
        assert_eq!(PythonVersion::parse("3.13"), None);
    }

    #[test]
    fn internal_image_wins_unless_empty() {
        assert_eq!(
            find_image_for(
                PythonVersion::Py310,
                None,
                Some("registry.example/override:1")
            ),
            "registry.example/override:1"
        );
        assert_eq!(
            find_image_for(PythonVersion::Py310, Some("v1.2.3"), Some("")),
            "cr.flyte.org/flyteorg/flytekit:py3.10-sqlalchemy-1.2.3"
        );
        assert_eq!(
            default_native_image(),
            format!("ghcr.io/flyte-sql/flyte-sql:{}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[test]
    fn native_images_follow_the_reference_rules() {
        assert_eq!(
            find_native_image(Some("registry.example/override:1")),
            "registry.example/override:1"
        );
        assert_eq!(find_native_image(Some("")), default_native_image());
        assert_eq!(find_native_image(None), default_native_image());
        assert_eq!(
            native_image_tagged("0.1.0"),
            "ghcr.io/flyte-sql/flyte-sql:0.1.0"
        );
        for development in ["0.2.0-dev.1", "", "0.0.0+develop"] {
            assert_eq!(
                native_image_tagged(development),
                "ghcr.io/flyte-sql/flyte-sql:latest"
            );
        }
    }
}
