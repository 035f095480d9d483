"""Regenerate `benchmarks/prompts/bimo_bench.jsonl`, the bimo-bench instruction set.

Hand-written topics and source passages for four domains are combined with
hand-written task phrasings (ten writing tasks, Chinese and English) into
instructions. Each domain x task cell gets three Chinese and two English items,
so the set is 60% Chinese; a few `write` items also carry a required `length`
for the length score. The choice of topic, passage and phrasing rotates with a
fixed seed, so the file is reproducible:

    python -m bimo.evaluate.benchgen benchmarks/prompts/bimo_bench.jsonl
"""

from __future__ import annotations

import random
import sys

DOMAINS = ("fiction", "creative_nonfiction", "marketing", "technical")
TASKS = ("write", "outline", "expand", "condense", "polish", "style_transfer", "review", "brainstorm", "title", "chat")
NEEDS_INPUT = {"expand", "condense", "polish", "style_transfer", "review", "title"}

TOPICS = {
    "fiction": {
        "zh": ["一个总在凌晨三点收到陌生来信的邮递员", "退休的京剧武生在养老院里重新登台", "暴雨夜被困在县城汽车站的五个陌生人",
               "一只能听懂方言的老猫", "2080 年最后一家实体书店的关门日", "外婆留下的一本写满错字的菜谱"],
        "en": ["a lighthouse keeper who finds a message from her future self", "two rival bakers forced to share one oven",
               "a city where it has not rained for ten years", "a child who collects other people's lost keys"],
    },
    "creative_nonfiction": {
        "zh": ["第一次独自坐绿皮火车回老家", "父亲那辆修了二十年的自行车", "在菜市场观察到的一个早晨",
               "学做家乡菜失败的三次经历", "搬离住了十年的出租屋", "冬天的北方澡堂"],
        "en": ["learning to swim as an adult", "the year I stopped using my phone at dinner",
               "a night shift in a hospital kitchen", "what my grandmother's garden taught me"],
    },
    "marketing": {
        "zh": ["一款主打低糖的国潮奶茶", "面向大学生的二手教材交易小程序", "云南手工古法红糖", "一家只在夜里营业的社区书店",
               "适合小户型的折叠跑步机", "为独居老人设计的智能药盒"],
        "en": ["a reusable coffee cup made from rice husks", "a language-learning app for busy parents",
               "a weekend repair café run by volunteers", "noise-cancelling earplugs for light sleepers"],
    },
    "technical": {
        "zh": ["如何在 Linux 上排查磁盘空间被占满的问题", "向非技术同事解释什么是数据库索引", "家用路由器的安全设置",
               "Git 分支管理的基本规范", "一次线上服务故障的复盘", "Python 虚拟环境的原理与用法"],
        "en": ["how HTTPS keeps a connection private", "writing a good bug report",
               "choosing between SQLite and PostgreSQL for a small app", "what a message queue is and when to use one"],
    },
}

PASSAGES = {
    "fiction": {
        "zh": ["老周把最后一封信塞进绿色邮筒时，天已经快亮了。信封上没有寄件人，只写着他自己的名字和一行小字：“别去河边。”他笑了笑，觉得是哪个孩子的恶作剧。可是第二天早上，河边真的出事了，而他那天正好因为自行车掉链子没有去。",
               "雨下得很大，车站的灯一闪一闪的。售票员说今晚不会再有车了。穿红外套的女人一直在打电话，戴眼镜的男生在看书，角落里的老人抱着一只纸箱，箱子里时不时发出声音。大家都很累，谁也不想说话。",
               "奶奶的菜谱上写着“红烧肉：糖一把，酱油看心情”。我照着做了三次，三次都不一样。第四次，我给妈妈打电话，她沉默了一会儿，说：“你奶奶做菜从来不看菜谱，那本子是写给你爷爷看的。”"],
        "en": ["The lighthouse had been dark for three nights when Mara found the note tucked inside the lamp housing. It was in her handwriting, but she had never written it. 'Don't trust the second boat,' it said. She laughed, then checked the date on the paper. It was dated next Tuesday.",
               "Every morning Leo walked the same route to school and every morning he found a key. Brass keys, car keys, a tiny silver key that could only open a diary. He kept them in a biscuit tin under his bed and gave each one a name. He never tried to find the owners. Until the day he found a key with his own address on the tag."],
    },
    "creative_nonfiction": {
        "zh": ["那年我十六岁，第一次一个人坐绿皮火车回老家。车厢里很挤，有人在泡面，有人在打牌，还有个小孩一直哭。我抱着书包坐在过道上，十四个小时没怎么合眼。天亮的时候，窗外是一大片一大片的油菜花，我突然觉得自己长大了。",
               "父亲的自行车是一辆黑色的二八大杠，车铃早就不响了，后座上绑着一块旧木板。这辆车驮过化肥，驮过我，也驮过他下岗那年摆摊用的货。后来家里买了电动车，他还是每天擦一遍那辆旧车，好像在擦一段不肯结束的日子。",
               "早上六点的菜市场比任何地方都醒得早。卖豆腐的阿姨一边收钱一边和人吵价，鱼摊老板用水管冲着案板，水溅到路过人的裤脚上也没人在意。我买了两个包子，站在门口看了半个小时，觉得这里的热闹是真实的。"],
        "en": ["I learned to swim at thirty-four, in a public pool that smelled of chlorine and old rubber. My instructor was nineteen and endlessly patient. For weeks I clung to the wall like it owed me money. Then one Thursday I let go, sank, kicked, and came up laughing, and the lifeguard gave me a thumbs-up I still think about.",
               "My grandmother grew tomatoes in paint buckets on a fourth-floor balcony. She talked to them in Cantonese and swore at the pigeons in English. When she died, nobody knew how to keep the plants alive, so we let them go to seed, and the next spring small green shoots came up in every bucket without anyone's help."],
    },
    "marketing": {
        "zh": ["我们的奶茶用的是云南古树红茶和新鲜牛奶，糖只有普通奶茶的三分之一。杯子是可降解的，吸管是甘蔗渣做的。现在新店开业，第二杯半价，欢迎大家来喝。我们觉得好喝又健康的奶茶才是年轻人需要的。",
               "这款智能药盒有七个格子，每天到点会响铃提醒老人吃药，子女也能在手机上看到老人有没有按时吃药。它的字很大，按钮很少，老人一学就会。电池能用三个月。价格是一百九十九元。",
               "社区书店“夜读”每天晚上八点开门，凌晨两点关门。店里有两百多本二手书，可以借也可以买，还有热茶和安静的角落。我们不卖咖啡，不搞网红打卡，只想给睡不着的人一个去处。"],
        "en": ["Our cup is made from rice husks left over after harvest. It keeps coffee hot for an hour, goes in the dishwasher, and weighs less than a phone. Every cup saves around 500 paper cups a year from landfill. It comes in four colours and costs $18.",
               "The Repair Café opens every Saturday from 10 to 2 at the community hall. Bring a broken lamp, a torn jacket or a toaster that only toasts one side. Volunteers will fix it with you for free. Last year we fixed 1,200 items and kept about three tonnes of stuff out of the bin."],
    },
    "technical": {
        "zh": ["磁盘满了的时候，先用 df -h 看是哪个分区满了，再用 du -sh * 一层一层往下找大文件。常见的原因有日志没有轮转、Docker 镜像太多、还有被删除但仍被进程占用的文件，这种情况要用 lsof | grep deleted 找出来，然后重启对应的进程。",
               "数据库索引就像书后面的目录。没有目录时，要找一个词就得从第一页翻到最后一页；有了目录，直接翻到对应页码。索引让查询变快，但也有代价：每次写入数据时，目录也要跟着更新，而且目录本身也要占空间。所以不是索引越多越好。",
               "本次故障发生在周二晚上九点十五分，订单服务响应时间从 200 毫秒升到 8 秒，持续了 42 分钟。原因是一次配置变更把数据库连接池上限从 100 改成了 10。我们通过回滚配置恢复了服务。后续会给配置变更加上审批和灰度。"],
        "en": ["HTTPS wraps ordinary HTTP inside TLS. When your browser connects, the server presents a certificate signed by an authority your browser trusts. The two sides then agree on a fresh session key using asymmetric cryptography, and everything after that is encrypted with fast symmetric ciphers, so someone on the café wifi sees only which site you visit, not what you send.",
               "A good bug report says what you did, what you expected, and what happened instead. Include the exact version, the steps to reproduce from a clean start, and the full error message rather than a paraphrase. Attach logs if you can. One bug per report. If you found a workaround, say so, because it often points straight at the cause."],
    },
}

STYLES = {"zh": ["鲁迅式的冷峻杂文", "古白话章回小说", "小红书种草笔记", "新闻通讯稿", "给小学生讲故事的口吻", "汪曾祺式的散淡笔调"],
          "en": ["a hard-boiled detective narrator", "a Victorian letter", "a cheerful children's picture book",
                 "a formal press release", "a minimalist Hemingway style"]}
AUDIENCES = {"zh": ["刚入职的新人", "中学生", "退休老人", "忙碌的上班族", "完全不懂技术的家长"],
             "en": ["first-year students", "busy managers", "retired readers", "people new to the field"]}
GENRE = {"fiction": ("小说", "short story"), "creative_nonfiction": ("散文", "personal essay"),
         "marketing": ("营销文案", "marketing copy"), "technical": ("技术文章", "technical article")}

PHRASES: dict[str, dict[str, list[str]]] = {
    "write": {
        "zh": ["以“{topic}”为题材，写一篇{genre}，面向{aud}。", "请围绕{topic}写一篇{genre}，要有具体的细节和场景，不要空泛议论。",
               "写一篇关于{topic}的{genre}，开头要能一下子抓住读者。"],
        "en": ["Write a {genre} about {topic} for {aud}.", "Write a {genre} on {topic}. Use concrete details, not generalities."],
    },
    "outline": {
        "zh": ["我想写一篇关于{topic}的{genre}，请帮我列一个分章节的大纲，每节用一两句话说明要写什么。",
               "为“{topic}”设计一份{genre}提纲，要有清晰的起承转合。", "请给一篇以{topic}为主题、面向{aud}的{genre}拟一个详细大纲。"],
        "en": ["Draft a section-by-section outline for a {genre} about {topic}.",
               "I'm planning a {genre} on {topic} for {aud}. Give me an outline with one line per section."],
    },
    "expand": {
        "zh": ["请把下面这段文字扩写成一篇完整的{genre}，保留原有情节和信息，补充细节。", "下面的片段太单薄了，请在不改变原意的前提下扩写到原来的三倍左右。",
               "以下面的文字为开头续写并扩展，使它成为一篇结构完整的{genre}。"],
        "en": ["Expand the passage below into a full {genre}, keeping its facts and events.",
               "The text below is too thin. Expand it to about three times its length without changing its meaning."],
    },
    "condense": {
        "zh": ["请把下面的文字压缩到一百字以内，保留最关键的信息。", "用三句话概括下面这段内容。", "把下面的文字改写成一条不超过五十字的摘要。"],
        "en": ["Condense the text below to at most 50 words, keeping what matters most.", "Summarize the passage below in two sentences."],
    },
    "polish": {
        "zh": ["请润色下面这段文字，使语言更流畅、更有表现力，但不要改变内容。", "下面这段话读起来有点平，请帮我修改得更生动，并简要说明你改了哪些地方。",
               "请以专业编辑的标准修改下面的文字，改正语病，调整节奏。"],
        "en": ["Polish the passage below: smoother, more vivid, same content.",
               "Edit the text below as a professional editor would, then list your three most important changes."],
    },
    "style_transfer": {
        "zh": ["请把下面的文字改写成{style}的风格。", "保持内容不变，用{style}的笔法重写下面这段话。", "把下面的内容改写为{style}，面向{aud}。"],
        "en": ["Rewrite the passage below in the style of {style}.", "Keep the content but retell the text below as {style}."],
    },
    "review": {
        "zh": ["请评点下面这段{genre}：指出两个优点和三个可以改进的地方，并给出修改建议。", "以编辑的眼光审读下面的文字，它最大的问题是什么？该怎么改？",
               "请给下面这段文字打分（满分十分），并详细说明理由。"],
        "en": ["Critique the {genre} excerpt below: two strengths, three weaknesses, and concrete fixes.",
               "Review the text below as an editor. What is its biggest problem, and how would you fix it?"],
    },
    "brainstorm": {
        "zh": ["围绕{topic}，帮我想十个可以写成{genre}的角度或点子，每个用一句话说明。", "关于{topic}，列出八个能打动{aud}的切入点。",
               "我要写{topic}相关的{genre}，但没有灵感，请给我五个出人意料的构思。"],
        "en": ["Brainstorm ten angles for a {genre} about {topic}, one line each.",
               "Give me six unexpected ideas for writing about {topic} for {aud}."],
    },
    "title": {
        "zh": ["请为下面这段文字起五个标题，风格各不相同，并说明各自的用意。", "给下面的内容拟三个吸引人的标题，不要标题党。", "为下面的文字想一个标题和一句副标题。"],
        "en": ["Suggest five titles for the text below, each in a different tone.", "Give the passage below a title and a one-line subtitle."],
    },
    "chat": {
        "zh": ["我在写一篇关于{topic}的{genre}，总觉得写得很平淡，你能和我聊聊问题可能出在哪儿吗？",
               "朋友说我的{genre}“没有画面感”，这是什么意思？以{topic}为例跟我讲讲。", "你觉得写{topic}这样的题材，最容易犯的错误是什么？"],
        "en": ["I'm stuck on a {genre} about {topic}. Can you talk me through how to get started?",
               "My editor says my {genre} on {topic} 'buries the lede'. What does that mean, and how do I fix it?"],
    },
}

LENGTHS = {"zh": [300, 800, 1500, 3000, 5000], "en": [200, 600, 1200, 2500]}


def generate(seed: int = 2024) -> list[dict]:
    rng = random.Random(seed)
    items: list[dict] = []
    for domain in DOMAINS:
        for task in TASKS:
            for lang, n in (("zh", 3), ("en", 2)):
                topics = rng.sample(TOPICS[domain][lang], n)
                passages = PASSAGES[domain][lang]
                for k in range(n):
                    tpl = PHRASES[task][lang][k % len(PHRASES[task][lang])]
                    genre = GENRE[domain][0 if lang == "zh" else 1]
                    prompt = tpl.format(topic=topics[k], genre=genre, aud=rng.choice(AUDIENCES[lang]),
                                        style=rng.choice(STYLES[lang]))
                    item = {"prompt": prompt, "task": task, "domain": domain, "lang": lang}
                    if task in NEEDS_INPUT:
                        item["input"] = passages[(k + rng.randrange(len(passages))) % len(passages)]
                    items.append(item)
        # length-constrained writing, for the length score S_l
        for lang in ("zh", "en"):
            for length in rng.sample(LENGTHS[lang], 3 if lang == "zh" else 2):
                topic = rng.choice(TOPICS[domain][lang])
                genre = GENRE[domain][0 if lang == "zh" else 1]
                prompt = (f"以“{topic}”为题材写一篇{genre}，全文约 {length} 字。" if lang == "zh"
                          else f"Write a {genre} about {topic}, about {length} words long.")
                items.append({"prompt": prompt, "task": "write", "domain": domain, "lang": lang, "length": length})
    for k, item in enumerate(items, 1):
        item["id"] = f"bb-{k:03d}"
    return [{"id": it.pop("id"), **it} for it in items]


def main(argv: list[str]) -> None:
    from bimo.io import atomic_write_jsonl

    out = argv[0] if argv else "benchmarks/prompts/bimo_bench.jsonl"
    items = generate()
    atomic_write_jsonl(out, items)
    print(f"{len(items)} instructions -> {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
