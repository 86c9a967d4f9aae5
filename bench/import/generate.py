#!/usr/bin/env python3
"""Writes a WordPress export (WXR 1.2) of POSTS posts with COMMENTS comments each, for
bench/import.sh. The content looks like a real site's: classic-editor paragraphs with links
and emphasis, some block-editor posts, lists, quotes, captions, threaded comments, pingbacks.
Usage: generate.py OUT POSTS COMMENTS_PER_POST"""
import random
import sys

out_path, posts, per_post = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(7)
WORDS = ("social work practice family care child support court report team budget "
         "visit listen record policy press story council trust carer rights law duty "
         "assessment review plan meeting risk safety voice young older home school").split()


def sentence(n):
    w = [rnd.choice(WORDS) for _ in range(n)]
    w[0] = w[0].capitalize()
    return " ".join(w) + "."


def paragraph():
    s = [sentence(rnd.randint(8, 18)) for _ in range(rnd.randint(2, 5))]
    i = rnd.randrange(len(s))
    s[i] = s[i].replace(" ", " <em>", 1).replace(".", "</em>.", 1)
    if rnd.random() < 0.5:
        s.append(f'See <a href="https://example.org/{rnd.choice(WORDS)}/">{rnd.choice(WORDS)}</a>.')
    return " ".join(s)


def classic_body(i):
    parts = [paragraph() for _ in range(rnd.randint(4, 8))]
    if i % 3 == 0:
        parts.insert(2, "<ul>\n" + "".join(f"<li>{sentence(5)}</li>\n" for _ in range(4)) + "</ul>")
    if i % 4 == 0:
        parts.insert(1, f"<blockquote>{sentence(12)}</blockquote>")
    if i % 5 == 0:
        parts.append(f'[caption id="attachment_{i}" align="aligncenter" width="300"]'
                     f'<img src="https://img.example/{i}.jpg" alt="{sentence(3)}" width="300" /> {sentence(4)}[/caption]')
    return "\n\n".join(parts)


def block_body():
    parts = []
    for _ in range(rnd.randint(4, 8)):
        parts.append(f"<!-- wp:paragraph -->\n<p>{paragraph()}</p>\n<!-- /wp:paragraph -->")
    parts.insert(1, f"<!-- wp:heading -->\n<h2>{sentence(4)}</h2>\n<!-- /wp:heading -->")
    return "\n\n".join(parts)


def cdata(s):
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


w = open(out_path, "w", encoding="utf-8", buffering=1 << 20)
w.write("""<?xml version="1.0" encoding="UTF-8" ?>
<rss version="2.0" xmlns:excerpt="http://wordpress.org/export/1.2/excerpt/" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:wp="http://wordpress.org/export/1.2/">
<channel>
<title>Bench Voices</title><link>https://bench.example</link><description>generated</description>
<language>en-GB</language><wp:wxr_version>1.2</wp:wxr_version>
<wp:base_site_url>https://bench.example</wp:base_site_url><wp:base_blog_url>https://bench.example</wp:base_blog_url>
""")
for a in range(5):
    w.write(f"<wp:author><wp:author_id>{a+1}</wp:author_id><wp:author_login>{cdata(f'author{a}')}</wp:author_login>"
            f"<wp:author_email>{cdata(f'author{a}@bench.example')}</wp:author_email>"
            f"<wp:author_display_name>{cdata(f'Author {a}')}</wp:author_display_name></wp:author>\n")
for c in range(20):
    parent = f"cat-{c // 5}" if c >= 5 else ""
    w.write(f"<wp:category><wp:term_id>{c+1}</wp:term_id><wp:category_nicename>{cdata(f'cat-{c}')}</wp:category_nicename>"
            f"<wp:category_parent>{cdata(parent)}</wp:category_parent><wp:cat_name>{cdata(f'Category {c}')}</wp:cat_name></wp:category>\n")
for t in range(200):
    w.write(f"<wp:tag><wp:term_id>{100+t}</wp:term_id><wp:tag_slug>{cdata(f'tag-{t}')}</wp:tag_slug><wp:tag_name>{cdata(f'tag {t}')}</wp:tag_name></wp:tag>\n")

cid = 0
for i in range(1, posts + 1):
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    year = 2010 + i // 336
    date = f"{year:04d}-{month:02d}-{day:02d} {i % 24:02d}:{i % 60:02d}:00"
    slug = f"post-{i}-" + "-".join(rnd.choice(WORDS) for _ in range(3))
    body = block_body() if i % 2 else classic_body(i)
    terms = f'<category domain="category" nicename="cat-{i % 20}">{cdata(f"Category {i % 20}")}</category>'
    for t in rnd.sample(range(200), 4):
        terms += f'<category domain="post_tag" nicename="tag-{t}">{cdata(f"tag {t}")}</category>'
    comments = []
    first = cid + 1
    for k in range(per_post):
        cid += 1
        parent = first + rnd.randrange(k) if k > 0 and rnd.random() < 0.4 else 0
        ping = k == per_post - 1 and i % 3 == 0
        text = (f"[&#8230;] {sentence(10)} [&#8230;]" if ping
                else "\n\n".join(sentence(rnd.randint(6, 20)) for _ in range(rnd.randint(1, 3))))
        comments.append(
            f"<wp:comment><wp:comment_id>{cid}</wp:comment_id><wp:comment_author>{cdata(f'Reader {cid % 997}')}</wp:comment_author>"
            f"<wp:comment_author_email>{cdata(f'reader{cid % 997}@mail.example')}</wp:comment_author_email>"
            f"<wp:comment_author_url>{'https://blog%d.example/%d/' % (cid % 50, cid) if ping else ''}</wp:comment_author_url>"
            f"<wp:comment_author_IP>{cdata('192.0.2.%d' % (cid % 250))}</wp:comment_author_IP>"
            f"<wp:comment_date>{cdata(date)}</wp:comment_date><wp:comment_date_gmt>{cdata(date)}</wp:comment_date_gmt>"
            f"<wp:comment_content>{cdata(text)}</wp:comment_content><wp:comment_approved>{cdata('1' if k % 10 else '0')}</wp:comment_approved>"
            f"<wp:comment_type>{cdata('pingback' if ping else 'comment')}</wp:comment_type><wp:comment_parent>{parent}</wp:comment_parent>"
            f"<wp:comment_user_id>0</wp:comment_user_id></wp:comment>\n")
    w.write(f"""<item><title>{sentence(rnd.randint(4, 9)).rstrip('.')}</title>
<link>https://bench.example/{year:04d}/{month:02d}/{day:02d}/{slug}/</link>
<dc:creator>{cdata(f'author{i % 5}')}</dc:creator><guid isPermaLink="false">https://bench.example/?p={i}</guid>
<content:encoded>{cdata(body)}</content:encoded><excerpt:encoded><![CDATA[]]></excerpt:encoded>
<wp:post_id>{i}</wp:post_id><wp:post_date>{cdata(date)}</wp:post_date><wp:post_date_gmt>{cdata(date)}</wp:post_date_gmt>
<wp:comment_status>open</wp:comment_status><wp:ping_status>open</wp:ping_status><wp:post_name>{cdata(slug)}</wp:post_name>
<wp:status>publish</wp:status><wp:post_parent>0</wp:post_parent><wp:menu_order>0</wp:menu_order><wp:post_type>post</wp:post_type>
<wp:post_password></wp:post_password><wp:is_sticky>0</wp:is_sticky>{terms}
{''.join(comments)}</item>
""")
w.write("</channel>\n</rss>\n")
w.close()
