//! Versioned schema for both backends. Each step is written twice, once per dialect, and the
//! two must describe the same tables: the integration suite runs on both to keep them honest.

pub(crate) struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "publishing core",
        sqlite: r#"
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  password_hash TEXT,
  bio_markdown TEXT NOT NULL DEFAULT '',
  bio_html TEXT NOT NULL DEFAULT '',
  avatar_file TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
);
CREATE TABLE login_failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);
CREATE TABLE setup_tokens (
  token_hash TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE site_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL
);
INSERT INTO site_version (id, version) VALUES (1, 1);
CREATE TABLE posts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  slug TEXT NOT NULL,
  body_markdown TEXT NOT NULL,
  body_html TEXT NOT NULL,
  plain_text TEXT NOT NULL,
  excerpt TEXT NOT NULL,
  status TEXT NOT NULL,
  publish_at INTEGER,
  author_id INTEGER NOT NULL REFERENCES users(id),
  featured_image TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  UNIQUE (kind, slug)
);
CREATE INDEX posts_listing ON posts(kind, status, publish_at);
CREATE INDEX posts_author ON posts(author_id, status, publish_at);
CREATE VIRTUAL TABLE posts_fts USING fts5(title, plain_text, content='posts', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER posts_fts_ai AFTER INSERT ON posts BEGIN
  INSERT INTO posts_fts(rowid, title, plain_text) VALUES (new.id, new.title, new.plain_text);
END;
CREATE TRIGGER posts_fts_ad AFTER DELETE ON posts BEGIN
  INSERT INTO posts_fts(posts_fts, rowid, title, plain_text) VALUES ('delete', old.id, old.title, old.plain_text);
END;
CREATE TRIGGER posts_fts_au AFTER UPDATE ON posts BEGIN
  INSERT INTO posts_fts(posts_fts, rowid, title, plain_text) VALUES ('delete', old.id, old.title, old.plain_text);
  INSERT INTO posts_fts(rowid, title, plain_text) VALUES (new.id, new.title, new.plain_text);
END;
CREATE TABLE terms (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  taxonomy TEXT NOT NULL,
  name TEXT NOT NULL,
  slug TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  parent_id INTEGER REFERENCES terms(id) ON DELETE SET NULL,
  UNIQUE (taxonomy, slug)
);
CREATE TABLE post_terms (
  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  term_id INTEGER NOT NULL REFERENCES terms(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  PRIMARY KEY (post_id, term_id)
);
CREATE INDEX post_terms_term ON post_terms(term_id);
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  run_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  locked_until INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
"#,
        postgres: r#"
CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  slug TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  password_hash TEXT,
  bio_markdown TEXT NOT NULL DEFAULT '',
  bio_html TEXT NOT NULL DEFAULT '',
  avatar_file TEXT,
  created_at BIGINT NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE TABLE api_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL
);
CREATE TABLE login_failures (
  id BIGSERIAL PRIMARY KEY,
  key TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures(key, at);
CREATE TABLE setup_tokens (
  token_hash TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE site_version (
  id BIGINT PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL
);
INSERT INTO site_version (id, version) VALUES (1, 1);
CREATE TABLE posts (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  slug TEXT NOT NULL,
  body_markdown TEXT NOT NULL,
  body_html TEXT NOT NULL,
  plain_text TEXT NOT NULL,
  excerpt TEXT NOT NULL,
  status TEXT NOT NULL,
  publish_at BIGINT,
  author_id BIGINT NOT NULL REFERENCES users(id),
  featured_image TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || plain_text)) STORED,
  UNIQUE (kind, slug)
);
CREATE INDEX posts_listing ON posts(kind, status, publish_at);
CREATE INDEX posts_author ON posts(author_id, status, publish_at);
CREATE INDEX posts_search ON posts USING GIN (search);
CREATE TABLE terms (
  id BIGSERIAL PRIMARY KEY,
  taxonomy TEXT NOT NULL,
  name TEXT NOT NULL,
  slug TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  parent_id BIGINT REFERENCES terms(id) ON DELETE SET NULL,
  UNIQUE (taxonomy, slug)
);
CREATE TABLE post_terms (
  post_id BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  term_id BIGINT NOT NULL REFERENCES terms(id) ON DELETE CASCADE,
  position BIGINT NOT NULL,
  PRIMARY KEY (post_id, term_id)
);
CREATE INDEX post_terms_term ON post_terms(term_id);
CREATE TABLE jobs (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  status TEXT NOT NULL,
  run_at BIGINT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  max_attempts BIGINT NOT NULL,
  locked_until BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs(status, run_at);
"#,
    },
    Migration {
        version: 2,
        name: "thoughts, likes, moderation, scoped changes",
        sqlite: r#"
ALTER TABLE posts ADD COLUMN thoughts_open INTEGER NOT NULL DEFAULT 1;
CREATE TABLE changes (
  version INTEGER PRIMARY KEY,
  scope TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE TABLE thoughts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  parent_id INTEGER REFERENCES thoughts(id) ON DELETE SET NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  author_name TEXT NOT NULL,
  author_email TEXT NOT NULL DEFAULT '',
  author_url TEXT NOT NULL DEFAULT '',
  author_ip TEXT NOT NULL DEFAULT '',
  body_markdown TEXT NOT NULL,
  body_html TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  source_url TEXT,
  held_reason TEXT NOT NULL DEFAULT '',
  spam_permille INTEGER,
  trained TEXT,
  deleted INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX thoughts_post ON thoughts(post_id, status, id);
CREATE INDEX thoughts_status ON thoughts(status, id);
CREATE INDEX thoughts_ip ON thoughts(author_ip, created_at);
CREATE INDEX thoughts_email ON thoughts(author_email, status);
CREATE TABLE likes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
  source_url TEXT,
  author_name TEXT NOT NULL,
  author_url TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (post_id, user_id),
  UNIQUE (post_id, source_url)
);
CREATE TABLE thought_watchers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  UNIQUE (post_id, email)
);
CREATE TABLE moderation_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  actor_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  actor_name TEXT NOT NULL,
  action TEXT NOT NULL,
  thought_id INTEGER,
  detail TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL
);
CREATE TABLE thought_bans (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (kind, value)
);
CREATE TABLE spam_tokens (
  token TEXT PRIMARY KEY,
  spam INTEGER NOT NULL DEFAULT 0,
  ham INTEGER NOT NULL DEFAULT 0
);
"#,
        postgres: r#"
ALTER TABLE posts ADD COLUMN thoughts_open BIGINT NOT NULL DEFAULT 1;
CREATE TABLE changes (
  version BIGINT PRIMARY KEY,
  scope TEXT NOT NULL,
  at BIGINT NOT NULL
);
CREATE TABLE thoughts (
  id BIGSERIAL PRIMARY KEY,
  post_id BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  parent_id BIGINT REFERENCES thoughts(id) ON DELETE SET NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
  author_name TEXT NOT NULL,
  author_email TEXT NOT NULL DEFAULT '',
  author_url TEXT NOT NULL DEFAULT '',
  author_ip TEXT NOT NULL DEFAULT '',
  body_markdown TEXT NOT NULL,
  body_html TEXT NOT NULL,
  body_hash TEXT NOT NULL,
  source_url TEXT,
  held_reason TEXT NOT NULL DEFAULT '',
  spam_permille BIGINT,
  trained TEXT,
  deleted BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX thoughts_post ON thoughts(post_id, status, id);
CREATE INDEX thoughts_status ON thoughts(status, id);
CREATE INDEX thoughts_ip ON thoughts(author_ip, created_at);
CREATE INDEX thoughts_email ON thoughts(author_email, status);
CREATE TABLE likes (
  id BIGSERIAL PRIMARY KEY,
  post_id BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  source_url TEXT,
  author_name TEXT NOT NULL,
  author_url TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  UNIQUE (post_id, user_id),
  UNIQUE (post_id, source_url)
);
CREATE TABLE thought_watchers (
  id BIGSERIAL PRIMARY KEY,
  post_id BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  created_at BIGINT NOT NULL,
  UNIQUE (post_id, email)
);
CREATE TABLE moderation_log (
  id BIGSERIAL PRIMARY KEY,
  actor_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
  actor_name TEXT NOT NULL,
  action TEXT NOT NULL,
  thought_id BIGINT,
  detail TEXT NOT NULL DEFAULT '',
  at BIGINT NOT NULL
);
CREATE TABLE thought_bans (
  id BIGSERIAL PRIMARY KEY,
  kind TEXT NOT NULL,
  value TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
  created_at BIGINT NOT NULL,
  UNIQUE (kind, value)
);
CREATE TABLE spam_tokens (
  token TEXT PRIMARY KEY,
  spam BIGINT NOT NULL DEFAULT 0,
  ham BIGINT NOT NULL DEFAULT 0
);
"#,
    },
    Migration {
        version: 3,
        name: "following by email: subscribers, mail deliveries, post announcements",
        sqlite: r#"
ALTER TABLE posts ADD COLUMN announced_at INTEGER;
UPDATE posts SET announced_at = COALESCE(publish_at, created_at) WHERE status = 'published';
CREATE TABLE subscribers (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  email TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  frequency TEXT NOT NULL DEFAULT 'immediate',
  categories TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  authors TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT 'form',
  confirm_token_hash TEXT,
  confirm_expires_at INTEGER,
  confirm_sent_at INTEGER,
  confirmed_at INTEGER,
  last_digest_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX subscribers_status ON subscribers(status, frequency);
CREATE TABLE mail_deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dedupe_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  to_email TEXT NOT NULL,
  subscriber_id INTEGER REFERENCES subscribers(id) ON DELETE CASCADE,
  post_id INTEGER,
  payload TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  run_at INTEGER NOT NULL,
  locked_until INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  sent_at INTEGER
);
CREATE INDEX mail_deliveries_due ON mail_deliveries(status, run_at);
"#,
        postgres: r#"
ALTER TABLE posts ADD COLUMN announced_at BIGINT;
UPDATE posts SET announced_at = COALESCE(publish_at, created_at) WHERE status = 'published';
CREATE TABLE subscribers (
  id BIGSERIAL PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  frequency TEXT NOT NULL DEFAULT 'immediate',
  categories TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  authors TEXT NOT NULL DEFAULT '',
  source TEXT NOT NULL DEFAULT 'form',
  confirm_token_hash TEXT,
  confirm_expires_at BIGINT,
  confirm_sent_at BIGINT,
  confirmed_at BIGINT,
  last_digest_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX subscribers_status ON subscribers(status, frequency);
CREATE TABLE mail_deliveries (
  id BIGSERIAL PRIMARY KEY,
  dedupe_key TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  to_email TEXT NOT NULL,
  subscriber_id BIGINT REFERENCES subscribers(id) ON DELETE CASCADE,
  post_id BIGINT,
  payload TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  attempts BIGINT NOT NULL DEFAULT 0,
  run_at BIGINT NOT NULL,
  locked_until BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  sent_at BIGINT
);
CREATE INDEX mail_deliveries_due ON mail_deliveries(status, run_at);
"#,
    },
    Migration {
        version: 4,
        name: "linkbacks: one thought per source and post, sends, gone posts",
        sqlite: r#"
CREATE UNIQUE INDEX thoughts_source ON thoughts(post_id, source_url) WHERE source_url IS NOT NULL;
CREATE TABLE linkback_sends (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  post_id INTEGER NOT NULL,
  target TEXT NOT NULL,
  version INTEGER NOT NULL,
  status TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL,
  UNIQUE (post_id, target, version)
);
CREATE TABLE gone_posts (
  path TEXT PRIMARY KEY,
  post_id INTEGER NOT NULL,
  body_html TEXT NOT NULL,
  deleted_at INTEGER NOT NULL
);
"#,
        postgres: r#"
CREATE UNIQUE INDEX thoughts_source ON thoughts(post_id, source_url) WHERE source_url IS NOT NULL;
CREATE TABLE linkback_sends (
  id BIGSERIAL PRIMARY KEY,
  post_id BIGINT NOT NULL,
  target TEXT NOT NULL,
  version BIGINT NOT NULL,
  status TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '',
  at BIGINT NOT NULL,
  UNIQUE (post_id, target, version)
);
CREATE TABLE gone_posts (
  path TEXT PRIMARY KEY,
  post_id BIGINT NOT NULL,
  body_html TEXT NOT NULL,
  deleted_at BIGINT NOT NULL
);
"#,
    },
    Migration {
        version: 5,
        name: "live debates: rooms, the event log, messages, registrations",
        sqlite: r#"
CREATE TABLE debates (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  post_id INTEGER NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  slug TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  starts_at INTEGER NOT NULL,
  duration_minutes INTEGER NOT NULL,
  zones TEXT NOT NULL,
  host_id INTEGER NOT NULL REFERENCES users(id),
  state TEXT NOT NULL DEFAULT 'scheduled',
  opened_at INTEGER,
  ended_at INTEGER,
  last_seq INTEGER NOT NULL DEFAULT 0,
  questions INTEGER NOT NULL DEFAULT 0,
  calendar_sequence INTEGER NOT NULL DEFAULT 0,
  locked INTEGER NOT NULL DEFAULT 0,
  slow_seconds INTEGER NOT NULL DEFAULT 0,
  pinned_id INTEGER,
  peak_readers INTEGER NOT NULL DEFAULT 0,
  prepared_questions TEXT NOT NULL DEFAULT '',
  summary_post_id INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX debates_state ON debates(state, starts_at);
CREATE INDEX debates_post ON debates(post_id);
CREATE TABLE debate_moderators (
  debate_id INTEGER NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (debate_id, user_id)
);
CREATE TABLE debate_events (
  debate_id INTEGER NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL,
  message_id INTEGER,
  data TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (debate_id, seq)
);
CREATE TABLE debate_messages (
  debate_id INTEGER NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  id INTEGER NOT NULL,
  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  author_name TEXT NOT NULL,
  kind TEXT NOT NULL,
  question INTEGER,
  reply_to INTEGER,
  body TEXT NOT NULL,
  body_html TEXT NOT NULL,
  hidden INTEGER NOT NULL DEFAULT 0,
  reactions INTEGER NOT NULL DEFAULT 0,
  edited_at INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (debate_id, id)
);
CREATE TABLE debate_reactions (
  debate_id INTEGER NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  message_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  reaction TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (debate_id, message_id, user_id, reaction)
);
CREATE TABLE debate_participants (
  debate_id INTEGER NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  muted INTEGER NOT NULL DEFAULT 0,
  messages INTEGER NOT NULL DEFAULT 0,
  last_post_at INTEGER,
  PRIMARY KEY (debate_id, user_id)
);
CREATE TABLE debate_bans (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  reason TEXT NOT NULL DEFAULT '',
  banned_by INTEGER,
  at INTEGER NOT NULL
);
CREATE TABLE conduct_acceptances (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  version TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, version)
);
CREATE TABLE debate_registrations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  debate_id INTEGER NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  token_hash TEXT,
  created_at INTEGER NOT NULL,
  confirmed_at INTEGER,
  UNIQUE (debate_id, email)
);
CREATE TABLE debate_presence (
  node TEXT NOT NULL,
  debate_id INTEGER NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  readers INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (node, debate_id)
);
"#,
        postgres: r#"
CREATE TABLE debates (
  id BIGSERIAL PRIMARY KEY,
  post_id BIGINT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  slug TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  starts_at BIGINT NOT NULL,
  duration_minutes BIGINT NOT NULL,
  zones TEXT NOT NULL,
  host_id BIGINT NOT NULL REFERENCES users(id),
  state TEXT NOT NULL DEFAULT 'scheduled',
  opened_at BIGINT,
  ended_at BIGINT,
  last_seq BIGINT NOT NULL DEFAULT 0,
  questions BIGINT NOT NULL DEFAULT 0,
  calendar_sequence BIGINT NOT NULL DEFAULT 0,
  locked BIGINT NOT NULL DEFAULT 0,
  slow_seconds BIGINT NOT NULL DEFAULT 0,
  pinned_id BIGINT,
  peak_readers BIGINT NOT NULL DEFAULT 0,
  prepared_questions TEXT NOT NULL DEFAULT '',
  summary_post_id BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX debates_state ON debates(state, starts_at);
CREATE INDEX debates_post ON debates(post_id);
CREATE TABLE debate_moderators (
  debate_id BIGINT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (debate_id, user_id)
);
CREATE TABLE debate_events (
  debate_id BIGINT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  seq BIGINT NOT NULL,
  kind TEXT NOT NULL,
  message_id BIGINT,
  data TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (debate_id, seq)
);
CREATE TABLE debate_messages (
  debate_id BIGINT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  id BIGINT NOT NULL,
  user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
  author_name TEXT NOT NULL,
  kind TEXT NOT NULL,
  question BIGINT,
  reply_to BIGINT,
  body TEXT NOT NULL,
  body_html TEXT NOT NULL,
  hidden BIGINT NOT NULL DEFAULT 0,
  reactions BIGINT NOT NULL DEFAULT 0,
  edited_at BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (debate_id, id)
);
CREATE TABLE debate_reactions (
  debate_id BIGINT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  message_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  reaction TEXT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (debate_id, message_id, user_id, reaction)
);
CREATE TABLE debate_participants (
  debate_id BIGINT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  muted BIGINT NOT NULL DEFAULT 0,
  messages BIGINT NOT NULL DEFAULT 0,
  last_post_at BIGINT,
  PRIMARY KEY (debate_id, user_id)
);
CREATE TABLE debate_bans (
  user_id BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  reason TEXT NOT NULL DEFAULT '',
  banned_by BIGINT,
  at BIGINT NOT NULL
);
CREATE TABLE conduct_acceptances (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  version TEXT NOT NULL,
  accepted_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, version)
);
CREATE TABLE debate_registrations (
  id BIGSERIAL PRIMARY KEY,
  debate_id BIGINT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  token_hash TEXT,
  created_at BIGINT NOT NULL,
  confirmed_at BIGINT,
  UNIQUE (debate_id, email)
);
CREATE TABLE debate_presence (
  node TEXT NOT NULL,
  debate_id BIGINT NOT NULL REFERENCES debates(id) ON DELETE CASCADE,
  readers BIGINT NOT NULL,
  at BIGINT NOT NULL,
  PRIMARY KEY (node, debate_id)
);
"#,
    },
    Migration {
        version: 6,
        name: "moving from WordPress: sticky posts, what was imported from where, old links",
        sqlite: r#"
ALTER TABLE posts ADD COLUMN sticky INTEGER NOT NULL DEFAULT 0;
CREATE TABLE import_map (
  source TEXT NOT NULL,
  kind TEXT NOT NULL,
  source_key TEXT NOT NULL,
  local_id INTEGER NOT NULL DEFAULT 0,
  local_name TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (source, kind, source_key)
);
CREATE TABLE redirects (
  path TEXT PRIMARY KEY,
  post_id INTEGER REFERENCES posts(id) ON DELETE CASCADE,
  term_id INTEGER REFERENCES terms(id) ON DELETE CASCADE
);
CREATE INDEX redirects_post ON redirects(post_id);
CREATE INDEX redirects_term ON redirects(term_id);
"#,
        postgres: r#"
ALTER TABLE posts ADD COLUMN sticky BIGINT NOT NULL DEFAULT 0;
CREATE TABLE import_map (
  source TEXT NOT NULL,
  kind TEXT NOT NULL,
  source_key TEXT NOT NULL,
  local_id BIGINT NOT NULL DEFAULT 0,
  local_name TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (source, kind, source_key)
);
CREATE TABLE redirects (
  path TEXT PRIMARY KEY,
  post_id BIGINT REFERENCES posts(id) ON DELETE CASCADE,
  term_id BIGINT REFERENCES terms(id) ON DELETE CASCADE
);
CREATE INDEX redirects_post ON redirects(post_id);
CREATE INDEX redirects_term ON redirects(term_id);
"#,
    },
    Migration {
        version: 7,
        name: "accounts: verified addresses, profiles, sign-in providers, mailed links, devices",
        sqlite: r#"
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;
ALTER TABLE users ADD COLUMN website TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN profile_hidden INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
UPDATE users SET email_verified_at = created_at;
CREATE TABLE recovery_codes (
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at INTEGER,
  PRIMARY KEY (user_id, code_hash)
);
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE identities (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  UNIQUE (provider, subject)
);
CREATE INDEX identities_user ON identities(user_id);
CREATE TABLE account_links (
  token_hash TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  email TEXT NOT NULL,
  user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
  data TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX account_links_email ON account_links(email, purpose, created_at);
CREATE TABLE oidc_flows (
  state_hash TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  nonce TEXT NOT NULL,
  pkce_verifier TEXT NOT NULL,
  next TEXT NOT NULL DEFAULT '',
  link_user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
  browser_hash TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
"#,
        postgres: r#"
ALTER TABLE users ADD COLUMN email_verified_at BIGINT;
ALTER TABLE users ADD COLUMN website TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN profile_hidden BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;
UPDATE users SET email_verified_at = created_at;
CREATE TABLE recovery_codes (
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL,
  used_at BIGINT,
  PRIMARY KEY (user_id, code_hash)
);
ALTER TABLE sessions ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE identities (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider TEXT NOT NULL,
  subject TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  UNIQUE (provider, subject)
);
CREATE INDEX identities_user ON identities(user_id);
CREATE TABLE account_links (
  token_hash TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  email TEXT NOT NULL,
  user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  data TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE INDEX account_links_email ON account_links(email, purpose, created_at);
CREATE TABLE oidc_flows (
  state_hash TEXT PRIMARY KEY,
  provider TEXT NOT NULL,
  nonce TEXT NOT NULL,
  pkce_verifier TEXT NOT NULL,
  next TEXT NOT NULL DEFAULT '',
  link_user_id BIGINT REFERENCES users(id) ON DELETE CASCADE,
  browser_hash TEXT NOT NULL,
  expires_at BIGINT NOT NULL
);
"#,
    },
];
