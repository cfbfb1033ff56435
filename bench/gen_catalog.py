#!/usr/bin/env python3
"""Benchmark catalog generator (docs/catalog-format.md).

Usage:
    python3 bench/gen_catalog.py OUT.json [--courses 2000] [--teachers 50] [--seed 20261121]

Writes a deterministic catalog (same seed, same bytes): 8 categories, 50 teachers with
Chinese, English and mixed names, 2,000 courses whose names mix Chinese and English topic
words ("Python 数据分析实战", "微服务进阶：Go + Docker in Action", ...), every course_type
(0 free with price "0", 1 actual-combat, 2 light), prices with two decimals, 2-3 chapters of
2-3 sections per course, and 4 banners. Every course is public (is_show true), so ids
1..N all answer on /api/v1/course/list/<id>/.

Standard library only. Prints a one-line summary and, for each word in KEYWORDS (the
words bench/search.lua uses), how many course names contain it (case-insensitively); it
exits non-zero if any keyword would have fewer than MIN_HITS courses, which would make a
search page 3 (page_size 10) answer 404.
"""

import argparse
import json
import random
import sys

# Must cover bench/search.lua's keyword list (teacher-name keywords are checked separately).
KEYWORDS = [
    "Python", "python", "Go", "Linux", "Django", "Vue", "Docker", "MySQL", "Redis",
    "数据分析", "运维", "爬虫", "微服务", "入门", "实战", "进阶", "精通", "全栈", "自动化",
]
TEACHER_KEYWORDS = ["Alex"]
MIN_HITS = 31  # page 3 of 10 must exist, with margin

CATEGORIES = ["Python", "Go 与 Rust", "Linux 运维", "前端 Vue", "数据分析", "人工智能", "数据库", "网络安全"]

TECH = [
    "Python", "Go", "Linux", "Django", "Vue", "Flask", "React", "Docker", "Kubernetes", "MySQL",
    "Redis", "Rust", "Java", "JavaScript", "TypeScript", "Nginx", "Spark", "Pandas", "Git", "Shell",
]
DOMAIN = [
    "数据分析", "运维", "爬虫", "微服务", "前端", "后端", "全栈", "自动化", "机器学习",
    "网络编程", "并发编程", "性能优化", "源码剖析", "项目开发", "面试",
]
LEVEL = ["入门", "实战", "进阶", "精通", "从零开始", "高级"]
TAIL = ["Bootcamp", "in Action", "Essentials", "Deep Dive", "for Beginners", "Masterclass", "Workshop"]
CHAPTER_WORDS = ["环境搭建", "基础语法", "核心原理", "项目实战", "部署上线", "Getting started",
                 "Hands-on", "Best practices", "Testing", "Troubleshooting"]
SECTION_WORDS = ["概述", "安装", "示例", "练习", "Q&A", "Demo", "Walkthrough", "Recap", "Lab", "小结"]

SURNAMES = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "涛", "明", "超", "霞", "平", "刚", "海峰", "晓东"]
ENGLISH = ["Alex", "Egon", "Linda", "Tom", "Jerry", "Lucy", "Kevin", "Grace", "Oliver", "Emma",
           "Henry", "Sophia", "Jack", "Mia", "Leo", "Chloe", "Ryan", "Zoe", "Ethan", "Nora"]
TITLES = ["资深 Python 讲师", "Senior Go engineer", "运维架构师", "前端技术专家", "Data scientist",
          "DBA / 数据库专家", "安全研究员", "全栈工程师", "AI researcher", "班主任"]


def money(rng, course_type):
    if course_type == 0:
        return "0"
    yuan = rng.choice([9.9, 19.9, 39, 49.5, 99, 128, 199, 299, 399.99, 499, 699, 899, 1299])
    return f"{yuan:.2f}"


def teacher_names(rng, n):
    # Fixed first names so keyword "Alex" (a teacher-name match) is stable.
    names = ["Alex 金角大王", "Egon 林海峰"]
    seen = set(names)
    while len(names) < n:
        kind = len(names) % 3
        if kind == 0:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        elif kind == 1:
            name = f"{rng.choice(ENGLISH)} {rng.choice(['Wang', 'Li', 'Chen', 'Smith', 'Lee', 'Zhang', 'Brown'])}"
        else:
            name = f"{rng.choice(ENGLISH[2:])} {rng.choice(SURNAMES)}{rng.choice(GIVEN)}"
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def course_name(rng):
    tech, tech2 = rng.sample(TECH, 2)
    domain, level, tail = rng.choice(DOMAIN), rng.choice(LEVEL), rng.choice(TAIL)
    form = rng.randrange(5)
    if form == 0:
        return f"{tech} {domain}{level}"
    if form == 1:
        return f"{domain}{level}：{tech} + {tech2} {tail}"
    if form == 2:
        return f"{tech} {tail} / {tech}{domain}{level}"
    if form == 3:
        return f"{level} {tech} 与 {tech2}：{domain}"
    return f"{tech}{level}（{domain}，{rng.choice([2023, 2024, 2025])} 版）"


def build(seed, n_courses, n_teachers):
    rng = random.Random(seed)
    categories = [{"id": i + 1, "name": name, "orders": i + 1, "is_show": True}
                  for i, name in enumerate(CATEGORIES)]
    teachers = []
    for i, name in enumerate(teacher_names(rng, n_teachers)):
        teachers.append({
            "id": i + 1, "name": name, "role": rng.choice([0, 0, 0, 1, 2]),
            "title": rng.choice(TITLES), "signature": rng.choice(["人生苦短，我用 Python", "Talk is cheap",
                                                                  "Keep it simple", "学而时习之"]),
            "image": f"teachers/{i + 1}.svg", "brief": f"{name}：十年一线开发经验 / ten years in the field.",
        })
    orders = list(range(1, n_courses + 1))
    rng.shuffle(orders)
    courses, chapter_id, section_id = [], 0, 0
    for cid in range(1, n_courses + 1):
        course_type = rng.choices([0, 1, 2], weights=[2, 5, 3])[0]
        status = rng.choices([0, 2], weights=[9, 1])[0]
        chapters = []
        for ch in range(1, rng.randint(2, 3) + 1):
            chapter_id += 1
            sections = []
            for so in range(1, rng.randint(2, 3) + 1):
                section_id += 1
                year = 2030 if status == 2 and ch > 1 else 2024
                sections.append({
                    "id": section_id, "name": f"{ch}.{so} {rng.choice(SECTION_WORDS)}", "orders": so,
                    "section_type": rng.choice([0, 1, 2, 2, 2]),
                    "section_link": f"videos/{cid}-{ch}-{so}.mp4",
                    "duration": f"{rng.randint(3, 45):02d}:{rng.randint(0, 59):02d}",
                    "pub_date": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T08:00:00Z",
                    "free_trail": ch == 1 and so == 1,
                })
            chapters.append({"id": chapter_id, "chapter": ch, "name": f"第{ch}章 {rng.choice(CHAPTER_WORDS)}",
                             "summary": "本章要点 / key points of the chapter.", "sections": sections})
        name = course_name(rng)
        courses.append({
            "id": cid, "name": name, "course_type": course_type,
            "category_id": (cid - 1) % len(categories) + 1,
            "teacher_id": (cid - 1) % n_teachers + 1,
            "course_img": f"courses/{cid}.svg",
            "brief": f"<p>{name}：从原理到项目的系统课程。A complete, hands-on course.</p>",
            "level": rng.randint(0, 2), "status": status, "price": money(rng, course_type),
            "period": rng.choice([0, 180, 365, 730]), "attachment_path": "",
            "students": rng.randint(0, 50000), "orders": orders[cid - 1], "is_show": True,
            "chapters": chapters,
        })
    banners = [{"id": i, "title": t, "image": f"banners/{i}.svg", "link": link, "orders": i}
               for i, (t, link) in enumerate([("春季大促 Spring sale", "/free-course"),
                                              ("Python 全栈 Bootcamp", "/actual-course"),
                                              ("Go 微服务实战", "/light-course"),
                                              ("新人免费课 Free courses", "/free-course")], start=1)]
    return {"categories": categories, "teachers": teachers, "courses": courses, "banners": banners}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--courses", type=int, default=2000)
    ap.add_argument("--teachers", type=int, default=50)
    ap.add_argument("--seed", type=int, default=20261121)
    args = ap.parse_args()
    catalog = build(args.seed, args.courses, args.teachers)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(catalog, f, ensure_ascii=False, indent=1)
        f.write("\n")
    courses = catalog["courses"]
    n_ch = sum(len(c["chapters"]) for c in courses)
    n_se = sum(len(ch["sections"]) for c in courses for ch in c["chapters"])
    types = {t: sum(c["course_type"] == t for c in courses) for t in (0, 1, 2)}
    print(f"gen_catalog: {args.out}: {len(catalog['categories'])} categories, {len(catalog['teachers'])} teachers, "
          f"{len(courses)} courses (types {types}), {n_ch} chapters, {n_se} sections, {len(catalog['banners'])} banners")
    by_teacher = {t["id"]: t["name"].lower() for t in catalog["teachers"]}
    low = []
    hits = {}
    for kw in KEYWORDS + TEACHER_KEYWORDS:
        k = kw.lower()
        hits[kw] = sum(k in c["name"].lower() or k in by_teacher[c["teacher_id"]] for c in courses)
        if hits[kw] < MIN_HITS:
            low.append(kw)
    print("gen_catalog: keyword hits: " + ", ".join(f"{k}={v}" for k, v in hits.items()))
    if low:
        print(f"gen_catalog: too few matches (< {MIN_HITS}) for {low}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
