//! The JSON API under `/api/v1/`, with its OpenAPI 3.1 document generated from these types.

use crate::auth::api_user;
use crate::error::{ApiError, WebError};
use crate::render::{iso, post_path};
use crate::site::{body_parts, term_inputs, DraftFields, PostDraft};
use crate::{AppState, SharedState};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use colloquy_core::post::{parse_timestamp, resolve_schedule};
use colloquy_core::{Invalid, Page, PostKind, PostStatus, Role, Slug, Title};
use colloquy_store::{PostPatch, PostRow, UserRow};
use serde::{Deserialize, Serialize};
use utoipa::{Modify, OpenApi, ToSchema};

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/api/v1/posts", get(list_posts).post(create_post))
        .route(
            "/api/v1/posts/{id}",
            get(get_post).patch(update_post).delete(delete_post),
        )
        .merge(super::api_thoughts::routes())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Colloquy API", description = "Posts, pages, thoughts, likes and live debates of a Colloquy publication."),
    paths(create_post, list_posts, get_post, update_post, delete_post,
        super::api_thoughts::create_thought, super::api_thoughts::list_thoughts, super::api_thoughts::moderation_list,
        super::api_thoughts::moderate, super::api_thoughts::edit_thought, super::api_thoughts::delete_thought,
        super::api_thoughts::like, super::api_thoughts::unlike,
        super::api_debates::create_debate, super::api_debates::list_debates, super::api_debates::get_debate,
        super::api_debates::update_debate, super::api_debates::open, super::api_debates::close,
        super::api_debates::accept_conduct, super::api_debates::create_message, super::api_debates::transcript),
    components(schemas(PostInput, PostUpdate, PostJson, PostList, AuthorJson, ErrorBody, ErrorDetail,
        super::api_thoughts::ThoughtInput, super::api_thoughts::ThoughtCreated, super::api_thoughts::ThoughtJson,
        super::api_thoughts::ThoughtList, super::api_thoughts::ThoughtEdit, super::api_thoughts::LikeState,
        super::api_debates::DebateInput, super::api_debates::DebateUpdate, super::api_debates::DebateJson,
        super::api_debates::ConductAccepted, super::api_debates::MessageJsonInput, super::api_debates::MessageCreated)),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

async fn openapi() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(s) => ([(header::CONTENT_TYPE, "application/json")], s).into_response(),
        Err(e) => ApiError(WebError::Internal(e.into())).into_response(),
    }
}

/// A new post or page.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    title: String,
    body_markdown: String,
    /// Tag names; tags that do not exist yet are created.
    #[serde(default)]
    tags: Vec<String>,
    /// Category names; categories that do not exist yet are created.
    #[serde(default)]
    categories: Vec<String>,
    /// `draft`, `scheduled` or `published`.
    status: String,
    /// RFC 3339 time; required for `scheduled`. A `published` post with a future time is scheduled.
    publish_at: Option<String>,
    /// Derived from the title when absent.
    slug: Option<String>,
    /// `post` (default) or `page`.
    kind: Option<String>,
    /// Whether readers may post thoughts (default true).
    thoughts_open: Option<bool>,
}

/// A partial update: absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostUpdate {
    title: Option<String>,
    body_markdown: Option<String>,
    tags: Option<Vec<String>>,
    categories: Option<Vec<String>>,
    status: Option<String>,
    publish_at: Option<String>,
    slug: Option<String>,
    thoughts_open: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct AuthorJson {
    id: i64,
    name: String,
    url: String,
}

#[derive(Serialize, ToSchema)]
pub struct PostJson {
    id: i64,
    kind: String,
    title: String,
    slug: String,
    status: String,
    publish_at: Option<String>,
    created_at: String,
    updated_at: String,
    /// Absolute URL of the post (public once it is published).
    url: String,
    body_markdown: String,
    body_html: String,
    excerpt: String,
    tags: Vec<String>,
    categories: Vec<String>,
    author: AuthorJson,
    thoughts_open: bool,
}

#[derive(Serialize, ToSchema)]
pub struct PostList {
    items: Vec<PostJson>,
    page: u32,
    per_page: u32,
    total: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    code: String,
    message: String,
    field: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// Parses a JSON body ourselves so a malformed one gets our error format with serde's reason.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, WebError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/json") {
        return Err(WebError::BadRequest(
            "send the body as JSON with Content-Type: application/json".into(),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| WebError::BadRequest(format!("the JSON body is not valid: {e}")))
}

pub(crate) fn parse_id(s: &str) -> Result<i64, WebError> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| WebError::BadRequest(format!("{s:?} is not a post id")))
}

async fn post_json(state: &AppState, p: &PostRow) -> Result<PostJson, WebError> {
    let terms = state
        .store
        .terms_of_posts(&[p.id])
        .await?
        .remove(&p.id)
        .unwrap_or_default();
    let names = |tax: &str| {
        terms
            .iter()
            .filter(|t| t.taxonomy == tax)
            .map(|t| t.name.clone())
            .collect()
    };
    let tz = state.settings().tz();
    let base = &state.config.base_url;
    Ok(PostJson {
        id: p.id,
        kind: p.kind.clone(),
        title: p.title.clone(),
        slug: p.slug.clone(),
        status: p.status.clone(),
        publish_at: p.publish_at.map(iso),
        created_at: iso(p.created_at),
        updated_at: iso(p.updated_at),
        url: format!("{base}{}", post_path(&p.kind, &p.slug, p.publish_at, &tz)),
        body_markdown: p.body_markdown.clone(),
        body_html: p.body_html.clone(),
        excerpt: p.excerpt.clone(),
        tags: names("tag"),
        categories: names("category"),
        thoughts_open: p.thoughts_open,
        author: AuthorJson {
            id: p.author_id,
            name: p.author_name.clone(),
            url: format!("{base}/author/{}/", p.author_slug),
        },
    })
}

fn check_body(md: &str) -> Result<(), Invalid> {
    colloquy_core::post::check_body(md)
}

fn may_edit(user: &UserRow, role: Role, p: &PostRow) -> Result<(), WebError> {
    if role.can_edit_others() || (role.can_write() && p.author_id == user.id && p.kind == "post") {
        Ok(())
    } else {
        Err(WebError::Forbidden("you may not change this post".into()))
    }
}

/// Creates a post or page.
#[utoipa::path(post, path = "/api/v1/posts", request_body = PostInput,
    responses((status = 201, body = PostJson), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)),
    security(("bearer" = [])))]
async fn create_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    if !role.can_write() {
        return Err(WebError::Forbidden("your role may not write posts".into()).into());
    }
    let input: PostInput = parse_json(&headers, &body)?;
    state.allow_new_post(user.id)?;
    let publish_at = input
        .publish_at
        .as_deref()
        .map(|s| parse_timestamp("publish_at", s))
        .transpose()?;
    let draft = PostDraft::parse(&DraftFields {
        kind: input.kind.as_deref().unwrap_or("post"),
        title: &input.title,
        slug: input.slug.as_deref(),
        body_markdown: &input.body_markdown,
        status: &input.status,
        publish_at,
        tags: &input.tags,
        categories: &input.categories,
    })?;
    if draft.kind == PostKind::Page && !role.can_edit_others() {
        return Err(WebError::Forbidden("only editors and admins manage pages".into()).into());
    }
    let id = state
        .store
        .create_post(draft.into_new_post(input.body_markdown, user.id, None))
        .await?;
    if input.thoughts_open == Some(false) {
        state.store.set_thoughts_open(id, false).await?;
    }
    state.content_changed().await;
    let p = state.store.post_by_id(id).await?;
    let json = post_json(&state, &p).await?;
    let location = format!("/api/v1/posts/{id}");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(json),
    )
        .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    page: Option<String>,
    per_page: Option<String>,
    kind: Option<String>,
}

/// Lists posts (or pages) of every status, most recently changed first.
#[utoipa::path(get, path = "/api/v1/posts",
    params(("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query), ("kind" = Option<String>, Query)),
    responses((status = 200, body = PostList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("bearer" = [])))]
async fn list_posts(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<PostList>, ApiError> {
    let (_, role) = api_user(&state, &headers).await?;
    if !role.can_write() {
        return Err(WebError::Forbidden("your role may not list drafts".into()).into());
    }
    let page = q
        .page
        .as_deref()
        .map(Page::parse)
        .transpose()?
        .unwrap_or(Page::FIRST);
    let per_page: u32 = match q.per_page.as_deref() {
        None => 20,
        Some(s) => s
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| Invalid::new("per_page", "per_page must be from 1 to 100"))?,
    };
    let kind = PostKind::parse(q.kind.as_deref().unwrap_or("post"))?;
    let (rows, total) = state
        .store
        .all_posts(kind.as_str(), per_page as i64, page.offset(per_page))
        .await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let full = state.store.post_by_id(r.id).await?;
        items.push(post_json(&state, &full).await?);
    }
    Ok(Json(PostList {
        items,
        page: page.number(),
        per_page,
        total,
    }))
}

/// One post by id.
#[utoipa::path(get, path = "/api/v1/posts/{id}", params(("id" = i64, Path)),
    responses((status = 200, body = PostJson), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn get_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<PostJson>, ApiError> {
    let (_, role) = api_user(&state, &headers).await?;
    let id = parse_id(&id)?;
    let p = state.store.post_by_id(id).await?;
    if p.status != "published" && !role.can_write() {
        return Err(WebError::NotFound.into());
    }
    Ok(Json(post_json(&state, &p).await?))
}

/// Changes some fields of a post.
#[utoipa::path(patch, path = "/api/v1/posts/{id}", params(("id" = i64, Path)), request_body = PostUpdate,
    responses((status = 200, body = PostJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("bearer" = [])))]
async fn update_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<PostJson>, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    let id = parse_id(&id)?;
    let input: PostUpdate = parse_json(&headers, &body)?;
    let cur = state.store.post_by_id(id).await?;
    may_edit(&user, role, &cur)?;
    let mut patch = PostPatch::default();
    if let Some(t) = &input.title {
        patch.title = Some(Title::parse(t)?.as_str().to_owned());
    }
    if let Some(s) = &input.slug {
        patch.slug = Some(Slug::parse(s)?.as_str().to_owned());
    }
    if let Some(md) = input.body_markdown {
        check_body(&md)?;
        let (html, plain, excerpt) = body_parts(&md);
        patch.body = Some((md, html, plain, excerpt));
    }
    if let Some(t) = &input.tags {
        patch.tags = Some(term_inputs("tags", t)?);
    }
    if let Some(c) = &input.categories {
        patch.categories = Some(term_inputs("categories", c)?);
    }
    if input.status.is_some() || input.publish_at.is_some() {
        let status = match &input.status {
            Some(s) => PostStatus::parse(s)?,
            None => PostStatus::parse(&cur.status)?,
        };
        let at = match &input.publish_at {
            Some(s) => Some(parse_timestamp("publish_at", s)?),
            None => cur.publish_at,
        };
        let (status, at) = resolve_schedule(status, at, colloquy_store::now())?;
        patch.status = Some(status.as_str().to_owned());
        patch.publish_at = Some(at);
    }
    state.store.update_post(id, patch).await?;
    if let Some(open) = input.thoughts_open {
        state.store.set_thoughts_open(id, open).await?;
    }
    state.content_changed().await;
    super::after_edit(&state, id).await?;
    let p = state.store.post_by_id(id).await?;
    Ok(Json(post_json(&state, &p).await?))
}

/// Deletes a post.
#[utoipa::path(delete, path = "/api/v1/posts/{id}", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("bearer" = [])))]
async fn delete_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (user, role) = api_user(&state, &headers).await?;
    let id = parse_id(&id)?;
    let cur = state.store.post_by_id(id).await?;
    may_edit(&user, role, &cur)?;
    super::delete_post_and_tell(&state, &cur).await?;
    Ok(StatusCode::NO_CONTENT)
}
