//! [`ArtifactStore`]: run artifacts in a local folder or an S3-compatible bucket, through `object_store`.
//! Every path comes from a client, so [`artifact_path`] refuses anything that could leave the root (`..`,
//! absolute paths, backslashes, NUL, `#`), and the local backend also refuses paths that pass through a symlink
//! pointing outside the root.

use crate::entities::FileInfo;
use crate::error::StoreError;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, WriteMultipart};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where artifacts live: a local folder (`/abs/dir`, `file:///abs/dir`) or `s3://bucket/prefix`.
#[derive(Clone)]
pub struct ArtifactStore {
    store: Arc<dyn ObjectStore>,
    prefix: Vec<String>,
    local_root: Option<PathBuf>,
    uri: String,
}

impl std::fmt::Debug for ArtifactStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactStore")
            .field("uri", &self.uri)
            .finish()
    }
}

/// Checks a client-supplied artifact path (already percent-decoded) and splits it into segments.
/// The empty path is the root.
///
/// # Errors
/// [`StoreError::InvalidParameter`] `Invalid path` for `..`, `.`, absolute paths, backslashes, `#` and NUL.
pub fn artifact_path(path: &str) -> Result<Vec<String>, StoreError> {
    let invalid = || StoreError::invalid(format!("Invalid path: '{path}'"));
    if path.starts_with('/')
        || path.contains(['\\', '#', '\0'])
        || path.contains(':') && path.contains("://")
    {
        return Err(invalid());
    }
    let mut segments = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" => continue,
            "." | ".." => return Err(invalid()),
            s => segments.push(s.to_string()),
        }
    }
    Ok(segments)
}

/// How to reach an S3-compatible bucket for an `s3://` artifact root. Fields left `None` fall back to what
/// `object_store` reads from the `AWS_*` variables itself (credentials, region, container or instance roles).
#[derive(Clone, Default)]
pub struct S3Options {
    /// Endpoint of an S3-compatible server (`http://127.0.0.1:9000`); Amazon S3 when `None`.
    pub endpoint: Option<String>,
    /// Region (`us-east-1` when neither this nor `AWS_REGION`/`AWS_DEFAULT_REGION` is set).
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
    /// Whether plain `http://` endpoints are allowed; `None` allows them on loopback only.
    pub allow_http: Option<bool>,
}

impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redacted(&self.secret_access_key))
            .field("session_token", &redacted(&self.session_token))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl S3Options {
    /// Reads the standard variables: the endpoint from `MLFLOW_S3_ENDPOINT_URL` (MLflow's own, which MLflow
    /// prefers too), else `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; `AWS_REGION` or `AWS_DEFAULT_REGION`;
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`; `AWS_ALLOW_HTTP` (`true`/`1`).
    pub fn from_env() -> Self {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// As [`S3Options::from_env`], reading variables through `lookup` (empty values count as unset).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let first = |keys: &[&str]| {
            keys.iter()
                .find_map(|key| lookup(key).filter(|v| !v.trim().is_empty()))
        };
        Self {
            endpoint: first(&[
                "MLFLOW_S3_ENDPOINT_URL",
                "AWS_ENDPOINT_URL_S3",
                "AWS_ENDPOINT_URL",
            ]),
            region: first(&["AWS_REGION", "AWS_DEFAULT_REGION"]),
            access_key_id: first(&["AWS_ACCESS_KEY_ID"]),
            secret_access_key: first(&["AWS_SECRET_ACCESS_KEY"]),
            session_token: first(&["AWS_SESSION_TOKEN"]),
            allow_http: first(&["AWS_ALLOW_HTTP"])
                .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "yes")),
        }
    }

    /// An `object_store` builder: the `AWS_*` variables first, then every option set here on top.
    fn builder(&self, uri: &str) -> Result<object_store::aws::AmazonS3Builder, StoreError> {
        let mut builder = object_store::aws::AmazonS3Builder::from_env();
        if let Some(endpoint) = &self.endpoint {
            let is_http = endpoint.to_ascii_lowercase().starts_with("http://");
            let allow_http = self
                .allow_http
                .unwrap_or(is_http && is_loopback_url(endpoint));
            if is_http && !allow_http {
                return Err(StoreError::invalid(format!(
                    "artifact root {uri}: endpoint {endpoint} is plain http and not on this machine; use https, \
                     or set AWS_ALLOW_HTTP=true if the network between is trusted"
                )));
            }
            builder = builder
                .with_endpoint(endpoint.trim_end_matches('/'))
                .with_allow_http(allow_http)
                // S3-compatible servers (moto, MinIO, Ceph) address buckets by path.
                .with_virtual_hosted_style_request(false);
        } else if let Some(allow_http) = self.allow_http {
            builder = builder.with_allow_http(allow_http);
        }
        if let Some(region) = &self.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &self.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &self.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        if let Some(token) = &self.session_token {
            builder = builder.with_token(token);
        }
        Ok(builder)
    }
}

/// Whether `url`'s host is this machine (`localhost`, `127.0.0.0/8`, `::1`).
fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Bodies up to this size are written with one PUT; larger ones stream as a multipart upload (S3's minimum part
/// size, so every part but the last is at least this big).
const SINGLE_PUT_MAX_BYTES: u64 = 5 * 1024 * 1024;

/// A buffered or streamed artifact body.
pub type ByteStream = futures::stream::BoxStream<'static, Result<Bytes, StoreError>>;

impl ArtifactStore {
    /// Opens the artifact root named by `uri`; an `s3://` root is reached with [`S3Options::from_env`].
    ///
    /// # Errors
    /// As [`ArtifactStore::open_with`].
    pub fn open(uri: &str) -> Result<Self, StoreError> {
        Self::open_with(uri, &S3Options::from_env())
    }

    /// Opens the artifact root named by `uri`: a folder path, `file:///path` or `s3://bucket/prefix` (reached
    /// with `s3`; options left unset fall back to what `object_store` reads from the `AWS_*` variables).
    ///
    /// # Errors
    /// [`StoreError::InvalidParameter`] for an unsupported scheme, an unsafe bucket prefix, or a plain-http
    /// endpoint that is not on loopback without `allow_http`; [`StoreError::Backend`] when the folder cannot be
    /// created or the bucket client cannot be configured.
    pub fn open_with(uri: &str, s3: &S3Options) -> Result<Self, StoreError> {
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(StoreError::invalid(format!(
                    "artifact root '{uri}' names no bucket: use s3://bucket/prefix"
                )));
            }
            let store = s3
                .builder(uri)?
                .with_bucket_name(bucket)
                .build()
                .map_err(|e| StoreError::backend(format!("opening artifact root {uri}"), e))?;
            return Ok(Self {
                store: Arc::new(store),
                prefix: artifact_path(prefix.trim_end_matches('/'))?,
                local_root: None,
                uri: uri.to_string(),
            });
        }
        let local = uri.strip_prefix("file://").unwrap_or(uri);
        if local.contains("://") {
            return Err(StoreError::invalid(format!(
                "unsupported artifact root '{uri}': use a folder path, file:///path or s3://bucket/prefix"
            )));
        }
        let root = std::path::absolute(Path::new(local))
            .map_err(|e| StoreError::backend(format!("resolving artifact root {uri}"), e))?;
        std::fs::create_dir_all(&root).map_err(|e| {
            StoreError::backend(format!("creating artifact root {}", root.display()), e)
        })?;
        let root = root.canonicalize().map_err(|e| {
            StoreError::backend(format!("resolving artifact root {}", root.display()), e)
        })?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(&root).map_err(|e| {
            StoreError::backend(format!("opening artifact root {}", root.display()), e)
        })?;
        Ok(Self {
            store: Arc::new(store),
            prefix: Vec::new(),
            local_root: Some(root),
            uri: uri.to_string(),
        })
    }

    /// The URI this store was opened with.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    fn object_path(&self, segments: &[String]) -> Result<ObjectPath, StoreError> {
        if let Some(root) = &self.local_root {
            // Follow every existing component: a symlink may not lead outside the root.
            let mut current = root.clone();
            for segment in segments {
                current.push(segment);
                match current.canonicalize() {
                    Ok(resolved) if !resolved.starts_with(root) => {
                        return Err(StoreError::invalid(format!(
                            "Invalid path: '{}' leaves the artifact root",
                            segments.join("/")
                        )));
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        let parts = self
            .prefix
            .iter()
            .chain(segments.iter())
            .map(|s| object_store::path::PathPart::from(s.as_str()));
        Ok(ObjectPath::from_iter(parts))
    }

    /// Writes `body` to `path`, streaming (bounded memory), replacing any existing file.
    ///
    /// # Errors
    /// `Invalid path` for unsafe paths; [`StoreError::Backend`] on I/O failures.
    pub async fn put_stream<S, E>(&self, path: &str, mut body: S) -> Result<u64, StoreError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let segments = artifact_path(path)?;
        if segments.is_empty() {
            return Err(StoreError::invalid(
                "Invalid path: '' names the root, not a file",
            ));
        }
        let location = self.object_path(&segments)?;
        // A body that ends within the first part is written with one PUT: one request instead of three on S3,
        // and an atomic rename on a folder. Only larger bodies pay for a multipart upload.
        let mut head: Vec<Bytes> = Vec::new();
        let mut total = 0u64;
        loop {
            match body.next().await {
                None => {
                    self.store
                        .put(&location, head.into_iter().collect())
                        .await
                        .map_err(|e| StoreError::backend(format!("uploading {path}"), e))?;
                    return Ok(total);
                }
                Some(Ok(bytes)) => {
                    total += bytes.len() as u64;
                    head.push(bytes);
                    if total > SINGLE_PUT_MAX_BYTES {
                        break;
                    }
                }
                Some(Err(e)) => return Err(StoreError::backend(format!("receiving {path}"), e)),
            }
        }
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(|e| StoreError::backend(format!("starting upload of {path}"), e))?;
        let mut writer = WriteMultipart::new(upload);
        for bytes in head {
            writer.write(&bytes);
        }
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => {
                    total += bytes.len() as u64;
                    writer
                        .wait_for_capacity(4)
                        .await
                        .map_err(|e| StoreError::backend(format!("uploading {path}"), e))?;
                    writer.write(&bytes);
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(StoreError::backend(format!("receiving {path}"), e));
                }
            }
        }
        writer
            .finish()
            .await
            .map_err(|e| StoreError::backend(format!("finishing upload of {path}"), e))?;
        Ok(total)
    }

    /// Writes a whole buffer to `path`.
    ///
    /// # Errors
    /// As [`ArtifactStore::put_stream`].
    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<u64, StoreError> {
        let stream = futures::stream::iter([Ok::<Bytes, std::io::Error>(bytes)]);
        self.put_stream(path, stream).await
    }

    /// Opens `path` for reading as a byte stream with its size.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] `No such artifact: '<path>'`; `Invalid path` for unsafe paths.
    pub async fn get(&self, path: &str) -> Result<(u64, ByteStream), StoreError> {
        let segments = artifact_path(path)?;
        let location = self.object_path(&segments)?;
        let result = self.store.get(&location).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => {
                StoreError::not_found(format!("No such artifact: '{path}'"))
            }
            other if self.local_root.is_some() => {
                tracing::debug!(error = %other, path, "artifact read failed");
                StoreError::not_found(format!("No such artifact: '{path}'"))
            }
            other => StoreError::backend(format!("reading artifact {path}"), other),
        })?;
        let size = result.meta.size;
        let stream = result
            .into_stream()
            .map_err(|e| StoreError::backend("streaming an artifact", e))
            .boxed();
        Ok((size, stream))
    }

    /// Reads `path` fully.
    ///
    /// # Errors
    /// As [`ArtifactStore::get`].
    pub async fn read(&self, path: &str) -> Result<Bytes, StoreError> {
        let (_, stream) = self.get(path).await?;
        let chunks: Vec<Bytes> = stream.try_collect().await?;
        Ok(chunks.concat().into())
    }

    /// Lists the immediate children of directory `path` as bare names; a file or a missing folder lists as empty.
    ///
    /// # Errors
    /// `Invalid path` for unsafe paths; [`StoreError::Backend`] on I/O failures.
    pub async fn list(&self, path: &str) -> Result<Vec<FileInfo>, StoreError> {
        let segments = artifact_path(path)?;
        let location = self.object_path(&segments)?;
        if let Some(root) = &self.local_root {
            let dir = segments.iter().fold(root.clone(), |p, s| p.join(s));
            if !dir.is_dir() {
                return Ok(Vec::new());
            }
        }
        let listing = match self.store.list_with_delimiter(Some(&location)).await {
            Ok(listing) => listing,
            Err(object_store::Error::NotFound { .. }) => return Ok(Vec::new()),
            Err(e) => {
                return Err(StoreError::backend(
                    format!("listing artifacts under {path}"),
                    e,
                ));
            }
        };
        let mut out: Vec<FileInfo> = Vec::new();
        for dir in listing.common_prefixes {
            if let Some(name) = dir.filename() {
                out.push(FileInfo {
                    path: name.to_string(),
                    is_dir: true,
                    file_size: None,
                });
            }
        }
        for object in listing.objects {
            if let Some(name) = object.location.filename() {
                out.push(FileInfo {
                    path: name.to_string(),
                    is_dir: false,
                    file_size: Some(object.size as i64),
                });
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// Deletes the file at `path` (a missing file is not an error).
    ///
    /// # Errors
    /// `Invalid path` for unsafe paths; [`StoreError::Backend`] on I/O failures.
    pub async fn delete(&self, path: &str) -> Result<(), StoreError> {
        let segments = artifact_path(path)?;
        let location = self.object_path(&segments)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(StoreError::backend(format!("deleting artifact {path}"), e)),
        }
    }

    /// Uploads every file below local folder `dir` to `dest/<relative path>`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when a file cannot be read or written.
    pub async fn upload_dir(&self, dir: &Path, dest: &str) -> Result<u64, StoreError> {
        let mut files = 0;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(current) = stack.pop() {
            let entries = std::fs::read_dir(&current).map_err(|e| {
                StoreError::backend(format!("reading folder {}", current.display()), e)
            })?;
            for entry in entries {
                let entry = entry.map_err(|e| {
                    StoreError::backend(format!("reading folder {}", current.display()), e)
                })?;
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let relative = path.strip_prefix(dir).unwrap_or(&path);
                let relative: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                let target = if dest.is_empty() {
                    relative.join("/")
                } else {
                    format!("{}/{}", dest.trim_end_matches('/'), relative.join("/"))
                };
                let file = tokio::fs::File::open(&path)
                    .await
                    .map_err(|e| StoreError::backend(format!("opening {}", path.display()), e))?;
                let stream = tokio_util_like_stream(file);
                self.put_stream(&target, stream).await?;
                files += 1;
            }
        }
        Ok(files)
    }
}

/// Reads a file as a stream of 256 KiB chunks.
fn tokio_util_like_stream(
    file: tokio::fs::File,
) -> futures::stream::BoxStream<'static, Result<Bytes, std::io::Error>> {
    use tokio::io::AsyncReadExt;
    futures::stream::unfold(Some(file), |state| async move {
        let mut file = state?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
    .boxed()
}

/// For an `mlflow-artifacts:/<path>` URI, the path below the proxy's root.
pub fn proxied_path(uri: &str) -> Option<&str> {
    uri.strip_prefix("mlflow-artifacts:")
        .map(|rest| rest.trim_start_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\b",
            "a#b",
            "a\0b",
            "./a",
        ] {
            assert!(artifact_path(bad).is_err(), "accepted {bad:?}");
        }
        assert_eq!(artifact_path("1/abc/artifacts/m.txt").unwrap().len(), 4);
        assert!(artifact_path("").unwrap().is_empty());
    }

    #[tokio::test]
    async fn files_round_trip_and_list_as_bare_names() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
        store
            .put("1/r/artifacts/a.txt", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        store
            .put("1/r/artifacts/sub/b.bin", Bytes::from_static(b"xy"))
            .await
            .unwrap();
        assert_eq!(
            &store.read("1/r/artifacts/a.txt").await.unwrap()[..],
            b"hello"
        );
        let listing = store.list("1/r/artifacts").await.unwrap();
        assert_eq!(
            listing,
            vec![
                FileInfo {
                    path: "a.txt".into(),
                    is_dir: false,
                    file_size: Some(5)
                },
                FileInfo {
                    path: "sub".into(),
                    is_dir: true,
                    file_size: None
                },
            ]
        );
        assert!(store.list("1/r/artifacts/a.txt").await.unwrap().is_empty());
        assert!(store.list("nope").await.unwrap().is_empty());
        assert!(matches!(
            store.get("1/r/artifacts/missing").await,
            Err(StoreError::NotFound(_))
        ));
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinks_leading_outside_the_root_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("escape")).unwrap();
        let store = ArtifactStore::open(dir.path().to_str().unwrap()).unwrap();
        assert!(
            store
                .put("escape/x.txt", Bytes::from_static(b"x"))
                .await
                .is_err()
        );
        assert!(!outside.path().join("x.txt").exists());
        assert!(store.list("escape").await.is_err());
    }
}
