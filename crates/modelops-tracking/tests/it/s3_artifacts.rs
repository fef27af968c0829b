//! `ArtifactStore` over an S3-compatible bucket: moto's server on a free loopback port (plain http, allowed
//! because the endpoint is loopback), one bucket per test, the store rooted at `s3://<bucket>/<prefix>`.

use crate::external::{MOTO_ACCESS_KEY, MOTO_REGION, MOTO_SECRET_KEY, Moto};
use bytes::Bytes;
use modelops_tracking::artifacts::S3Options;
use modelops_tracking::entities::FileInfo;
use modelops_tracking::{ArtifactStore, StoreError};

fn moto_options(moto: &Moto) -> S3Options {
    S3Options {
        endpoint: Some(moto.url().to_string()),
        region: Some(MOTO_REGION.into()),
        access_key_id: Some(MOTO_ACCESS_KEY.into()),
        secret_access_key: Some(MOTO_SECRET_KEY.into()),
        ..Default::default()
    }
}

fn file(path: &str, size: i64) -> FileInfo {
    FileInfo {
        path: path.into(),
        is_dir: false,
        file_size: Some(size),
    }
}

fn dir(path: &str) -> FileInfo {
    FileInfo {
        path: path.into(),
        is_dir: true,
        file_size: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_artifacts_round_trip_list_nest_and_refuse_escapes() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(moto) = Moto::start(tmp.path()) else {
        return;
    };
    moto.create_bucket("artifacts").await;
    let store =
        ArtifactStore::open_with("s3://artifacts/team/mlartifacts", &moto_options(&moto)).unwrap();
    assert_eq!(store.uri(), "s3://artifacts/team/mlartifacts");

    // Small files (one PUT), an empty file, and one large enough for a multipart upload.
    store
        .put(
            "1/run/artifacts/metrics.json",
            Bytes::from_static(b"{\"rmspe\":0.1}"),
        )
        .await
        .unwrap();
    store
        .put("1/run/artifacts/empty.txt", Bytes::new())
        .await
        .unwrap();
    let big: Vec<u8> = (0..6 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    let chunks: Vec<Result<Bytes, std::io::Error>> = big
        .chunks(256 * 1024)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let written = store
        .put_stream(
            "1/run/artifacts/model/deep/er/model.bin",
            futures::stream::iter(chunks),
        )
        .await
        .unwrap();
    assert_eq!(written, big.len() as u64);

    assert_eq!(
        &store.read("1/run/artifacts/metrics.json").await.unwrap()[..],
        b"{\"rmspe\":0.1}"
    );
    assert!(
        store
            .read("1/run/artifacts/empty.txt")
            .await
            .unwrap()
            .is_empty()
    );
    let (size, _) = store
        .get("1/run/artifacts/model/deep/er/model.bin")
        .await
        .unwrap();
    assert_eq!(size, big.len() as u64);
    assert_eq!(
        store
            .read("1/run/artifacts/model/deep/er/model.bin")
            .await
            .unwrap(),
        big
    );

    // Listings give bare names, directories first as object_store reports them, sorted by name.
    assert_eq!(
        store.list("1/run/artifacts").await.unwrap(),
        [file("empty.txt", 0), file("metrics.json", 13), dir("model")]
    );
    assert_eq!(
        store.list("1/run/artifacts/model").await.unwrap(),
        [dir("deep")]
    );
    assert_eq!(
        store.list("1/run/artifacts/model/deep/er").await.unwrap(),
        [file("model.bin", big.len() as i64)]
    );
    assert!(
        store
            .list("1/run/artifacts/metrics.json")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.list("1/absent").await.unwrap().is_empty());
    assert_eq!(store.list("").await.unwrap(), [dir("1")]);

    // Everything lives below the prefix: a store on the bare bucket sees it there.
    let bucket = ArtifactStore::open_with("s3://artifacts", &moto_options(&moto)).unwrap();
    assert_eq!(bucket.list("team").await.unwrap(), [dir("mlartifacts")]);
    assert_eq!(
        &bucket
            .read("team/mlartifacts/1/run/artifacts/metrics.json")
            .await
            .unwrap()[..],
        b"{\"rmspe\":0.1}"
    );

    assert!(matches!(
        store.get("1/run/artifacts/missing.txt").await,
        Err(StoreError::NotFound(_))
    ));
    for escape in [
        "../outside.txt",
        "1/../../outside.txt",
        "/abs.txt",
        "a\\b",
        "a#b",
        "./a",
    ] {
        assert!(
            matches!(
                store.put(escape, Bytes::from_static(b"x")).await,
                Err(StoreError::InvalidParameter(_))
            ),
            "put accepted {escape:?}"
        );
        assert!(store.get(escape).await.is_err(), "get accepted {escape:?}");
        assert!(
            store.list(escape).await.is_err(),
            "list accepted {escape:?}"
        );
    }
    assert!(
        bucket.list("").await.unwrap() == [dir("team")],
        "nothing was written beside the prefix"
    );

    store.delete("1/run/artifacts/empty.txt").await.unwrap();
    store.delete("1/run/artifacts/empty.txt").await.unwrap();
    assert!(matches!(
        store.get("1/run/artifacts/empty.txt").await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_uploads_to_s3_with_its_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(moto) = Moto::start(tmp.path()) else {
        return;
    };
    moto.create_bucket("folders").await;
    let store = ArtifactStore::open_with("s3://folders/root", &moto_options(&moto)).unwrap();
    let outputs = tmp.path().join("outputs");
    std::fs::create_dir_all(outputs.join("a/b")).unwrap();
    std::fs::write(outputs.join("top.txt"), b"top").unwrap();
    std::fs::write(outputs.join("a/b/leaf.txt"), b"leaf").unwrap();
    assert_eq!(store.upload_dir(&outputs, "model").await.unwrap(), 2);
    assert_eq!(&store.read("model/top.txt").await.unwrap()[..], b"top");
    assert_eq!(
        &store.read("model/a/b/leaf.txt").await.unwrap()[..],
        b"leaf"
    );
    assert_eq!(
        store.list("model").await.unwrap(),
        [dir("a"), file("top.txt", 3)]
    );
}

#[test]
fn s3_settings_come_from_the_standard_variables() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_string())
        }
    };
    let options = S3Options::from_lookup(env(&[
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000"),
        ("AWS_DEFAULT_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "id"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ]));
    assert_eq!(options.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert_eq!(options.region.as_deref(), Some("eu-west-1"));
    assert_eq!(options.access_key_id.as_deref(), Some("id"));
    assert_eq!(options.allow_http, None);
    assert!(
        !format!("{options:?}").contains("secret\""),
        "secrets stay out of Debug"
    );
    // MLflow's own variable wins, as in MLflow; AWS_ENDPOINT_URL_S3 beats the generic one.
    let mlflow = S3Options::from_lookup(env(&[
        ("AWS_ENDPOINT_URL", "http://generic:1"),
        ("AWS_ENDPOINT_URL_S3", "http://s3-specific:2"),
        ("MLFLOW_S3_ENDPOINT_URL", "http://mlflow:3"),
        ("AWS_ALLOW_HTTP", "true"),
    ]));
    assert_eq!(mlflow.endpoint.as_deref(), Some("http://mlflow:3"));
    assert_eq!(mlflow.allow_http, Some(true));
    let specific = S3Options::from_lookup(env(&[
        ("AWS_ENDPOINT_URL", "http://generic:1"),
        ("AWS_ENDPOINT_URL_S3", "http://s3-specific:2"),
        ("MLFLOW_S3_ENDPOINT_URL", ""),
    ]));
    assert_eq!(specific.endpoint.as_deref(), Some("http://s3-specific:2"));
}

#[test]
fn plain_http_is_allowed_only_on_loopback_unless_asked() {
    let with = |endpoint: &str, allow_http: Option<bool>| S3Options {
        endpoint: Some(endpoint.into()),
        region: Some("us-east-1".into()),
        access_key_id: Some("id".into()),
        secret_access_key: Some("secret".into()),
        allow_http,
        ..Default::default()
    };
    for loopback in [
        "http://127.0.0.1:9000",
        "http://localhost:9000/",
        "http://[::1]:9000",
        "http://127.8.9.10",
    ] {
        ArtifactStore::open_with("s3://b/p", &with(loopback, None))
            .unwrap_or_else(|e| panic!("{loopback}: {e}"));
    }
    match ArtifactStore::open_with("s3://b/p", &with("http://minio.internal:9000", None)) {
        Err(StoreError::InvalidParameter(message)) => {
            assert!(message.contains("AWS_ALLOW_HTTP"), "{message}")
        }
        other => panic!("remote plain http was accepted: {other:?}"),
    }
    ArtifactStore::open_with("s3://b/p", &with("http://minio.internal:9000", Some(true))).unwrap();
    ArtifactStore::open_with("s3://b/p", &with("https://minio.internal:9000", None)).unwrap();
    assert!(matches!(
        ArtifactStore::open_with("s3:///p", &with("https://x", None)),
        Err(StoreError::InvalidParameter(_))
    ));
    assert!(matches!(
        ArtifactStore::open_with("s3://b/../p", &with("https://x", None)),
        Err(StoreError::InvalidParameter(_))
    ));
}
