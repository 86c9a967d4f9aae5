//! Static assets, embedded in the binary and served under fingerprinted names so browsers
//! may cache them forever (`immutable`): a new build gets new names.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Asset {
    stem: &'static str,
    ext: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset {
        stem: "style",
        ext: "css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../static/style.css"),
    },
    Asset {
        stem: "admin",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/admin.js"),
    },
    Asset {
        stem: "time",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/time.js"),
    },
    Asset {
        stem: "thoughts",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/thoughts.js"),
    },
    Asset {
        stem: "debate",
        ext: "js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../static/debate.js"),
    },
];

fn names() -> &'static Vec<String> {
    static N: OnceLock<Vec<String>> = OnceLock::new();
    N.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let h = hex::encode(&Sha256::digest(a.body.as_bytes())[..6]);
                format!("{}.{h}.{}", a.stem, a.ext)
            })
            .collect()
    })
}

fn url_of(i: usize) -> String {
    format!("/static/{}", names()[i])
}

pub fn css_url() -> String {
    url_of(0)
}
pub fn admin_js_url() -> String {
    url_of(1)
}
pub fn time_js_url() -> String {
    url_of(2)
}
pub fn thoughts_js_url() -> String {
    url_of(3)
}

pub fn debate_js_url() -> String {
    url_of(4)
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match names().iter().position(|n| *n == name) {
        Some(i) => (
            [
                (header::CONTENT_TYPE, ASSETS[i].content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            ASSETS[i].body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
