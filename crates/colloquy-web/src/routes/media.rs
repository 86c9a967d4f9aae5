//! Uploaded files and generated avatars.

use crate::error::WebError;
use crate::SharedState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Image types we accept, recognised by their first bytes (never by the name a client sent).
pub fn sniff_image(data: &[u8]) -> Option<(&'static str, &'static str)> {
    if data.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(("png", "image/png"))
    } else if data.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(("jpg", "image/jpeg"))
    } else if data.starts_with(b"GIF87a") || data.starts_with(b"GIF89a") {
        Some(("gif", "image/gif"))
    } else if data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        Some(("webp", "image/webp"))
    } else {
        None
    }
}

pub const MAX_IMAGE: usize = 5 * 1024 * 1024;

/// Stores an uploaded image under a name made from its content; returns that name.
pub async fn save_image(state: &SharedState, data: &[u8]) -> Result<String, WebError> {
    if data.len() > MAX_IMAGE {
        return Err(WebError::TooLarge);
    }
    sniff_image(data).ok_or_else(|| {
        WebError::Invalid(colloquy_core::Invalid::new(
            "image",
            "the file is not a PNG, JPEG, GIF or WebP image",
        ))
    })?;
    Ok(write_upload(&state.config.data_dir.join("uploads"), data)
        .await
        .map_err(anyhow::Error::from)?)
}

/// The name an image is stored under: made from its content, so the same image is one file.
pub fn upload_name(data: &[u8]) -> Option<String> {
    let (ext, _) = sniff_image(data)?;
    Some(format!(
        "{}.{ext}",
        hex::encode(&Sha256::digest(data)[..16])
    ))
}

/// Writes an image (already checked to be one) into `dir` under [`upload_name`], atomically.
pub async fn write_upload(dir: &std::path::Path, data: &[u8]) -> std::io::Result<String> {
    let name = upload_name(data)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an image"))?;
    let path = dir.join(&name);
    if !path.exists() {
        let tmp = dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, data).await?;
        tokio::fs::rename(&tmp, &path).await?;
    }
    Ok(name)
}

pub async fn upload(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    // Names are ours (hex + extension): anything else, including "..", is not a file we made.
    let ok = name.len() < 80
        && name.split_once('.').is_some_and(|(stem, ext)| {
            stem.chars().all(|c| c.is_ascii_hexdigit())
                && ["png", "jpg", "gif", "webp"].contains(&ext)
        });
    if !ok {
        return Err(WebError::NotFound);
    }
    let data = tokio::fs::read(state.config.data_dir.join("uploads").join(&name))
        .await
        .map_err(|_| WebError::NotFound)?;
    let ct = sniff_image(&data)
        .map(|(_, ct)| ct)
        .unwrap_or("application/octet-stream");
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        data,
    )
        .into_response())
}

pub async fn avatar(
    State(state): State<SharedState>,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let slug = name.strip_suffix(".svg").ok_or(WebError::NotFound)?;
    let user = state.store.user_by_slug(slug).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        colloquy_core::avatar::identicon_svg(&user.email),
    )
        .into_response())
}
