"""Build the sample inputs of the text-corpus configs from our own sample texts.

Writes ``wudao_sample.json`` (a WuDaoCorpora-style JSON array) and
``mnbvc_sample.jsonl.zst`` (MNBVC file, question/answer and forum records) from
``sample_texts.py``, whose texts were all written for curate. Each file also
holds a few records a re-curation must handle: an exact copy, a spam page, a
near-empty record, and malformed ones (a JSON line cut off, a number where the
text belongs), so the sample manifests show every kind of count.

Run: ``python samples/build_text_samples.py`` (deterministic output).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

import zstandard

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sample_texts as texts  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def articles() -> list[tuple[str, str, str]]:
    """(section, title, body) of every Simplified Chinese sample article."""
    out = []
    for group in texts.ZH_HANS_GROUPS:
        for article in group["articles"]:
            body = "\n".join(group["paragraphs"][i] for i in article["order"])
            out.append((str(group["section"]), str(article["title"]), body))
    return out


def gambling_spam() -> str:
    lines = [
        f"{texts.SPAM_GAMBLING_SITE}{game} {promo}"
        for game, promo in zip(texts.SPAM_GAMBLING_GAMES, texts.SPAM_GAMBLING_PROMOS * 2)
    ]
    return "\n".join(lines * 3)


def wudao_records() -> list[object]:
    records: list[object] = []
    for i, (section, title, body) in enumerate(articles()):
        key = hashlib.md5(f"{section}{title}".encode()).hexdigest()
        records.append(
            {"id": i, "uniqueKey": key, "titleUkey": key[:16], "dataType": section, "title": title, "content": body}
        )
    first = dict(records[0])  # the same article again under another id: exact dedup removes it
    first.update(id=len(records), uniqueKey="copy-" + str(first["uniqueKey"]))
    records.append(first)
    records.append(
        {
            "id": len(records),
            "uniqueKey": "spam",
            "titleUkey": "spam",
            "dataType": "博客",
            "title": "娱乐推荐",
            "content": gambling_spam(),
        }
    )
    records.append(
        {
            "id": len(records),
            "uniqueKey": "short",
            "titleUkey": "short",
            "dataType": "新闻",
            "title": "简讯",
            "content": "详见附件。",
        }
    )
    records.append(
        {
            "id": len(records),
            "uniqueKey": "bad-type",
            "titleUkey": "bad",
            "dataType": "新闻",
            "title": "坏记录",
            "content": 12345,
        }
    )
    return records


def mnbvc_lines() -> list[str]:
    lines = []
    for i, (section, title, body) in enumerate(articles()[:12]):
        paragraphs = [title] + body.split("\n")
        lines.append(
            {
                "文件名": f"{section}/{i:04d}.txt",
                "是否待查文件": False,
                "是否重复文件": False,
                "文件大小": len("\n".join(paragraphs).encode()),
                "simhash": int(hashlib.md5(body.encode()).hexdigest()[:15], 16),
                "最长段落长度": max(len(p) for p in paragraphs),
                "段落数": len(paragraphs),
                "去重段落数": len(paragraphs),
                "低质量段落数": 0,
                "段落": [
                    {
                        "行号": n,
                        "是否重复": False,
                        "是否跨文件重复": False,
                        "md5": hashlib.md5(p.encode()).hexdigest(),
                        "内容": p,
                    }
                    for n, p in enumerate(paragraphs, 1)
                ],
            }
        )
    for i, thread in enumerate(texts.FORUM_THREADS):
        if thread["script"] != "hans":
            continue
        posts = thread["posts"]
        replies = [
            {"楼ID": n, "回复": text, "扩展字段": json.dumps({"回复人": who}, ensure_ascii=False)}
            for n, (who, text) in enumerate(posts[1:], 2)
        ]
        lines.append(
            {
                "ID": i,
                "主题": f"{thread['title']}\n{posts[0][1]}",
                "来源": "sample-forum",
                "回复": replies,
                "元数据": {"版块": thread["board"]},
            }
        )
        # The same thread as a question with its longest answer (MNBVC's 问答 layout).
        question, answer = posts[0][1], max((text for _, text in posts[1:]), key=len)
        lines.append(
            {
                "id": i,
                "问": question,
                "答": answer,
                "来源": "sample-forum",
                "元数据": {
                    "create_time": "20261128 12:00:00",
                    "问题明细": thread["title"],
                    "回答明细": "",
                    "扩展字段": "",
                },
            }
        )
    out = [json.dumps(line, ensure_ascii=False) for line in lines]
    out.insert(5, out[5][: len(out[5]) // 2])  # a line cut in the middle: counted as read.bad_json
    out.insert(9, json.dumps({"文件名": "empty.txt", "段落": []}, ensure_ascii=False))  # no text: read.missing_text
    return out


def main() -> None:
    with open(os.path.join(HERE, "wudao_sample.json"), "w", encoding="utf-8") as handle:
        # WuDao files are one JSON array; one element per line keeps the sample diffable.
        handle.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in wudao_records()) + "\n]\n")
    data = ("\n".join(mnbvc_lines()) + "\n").encode("utf-8")
    with open(os.path.join(HERE, "mnbvc_sample.jsonl.zst"), "wb") as handle:
        handle.write(zstandard.ZstdCompressor(level=19).compress(data))


if __name__ == "__main__":
    main()
