"""Build heldout_oos.jsonl: the out-of-source held-out set of the genre model.

    python tests/curate/data/make_oos.py tests/curate/data/heldout_oos.jsonl

Human texts from sources the model is never trained on: the hand-written documents of
messy_corpus.jsonl (its real excerpts come from training sources and are left out), and the texts
below — hand-written ad copy, news, stories, expository and technical prose in both languages,
and public-domain poems and early modern prose quoted from print editions (徐志摩, 戴望舒, 周敦颐,
Shakespeare, Wordsworth, Dickinson, Rossetti, Bacon, the 1662 Book of Common Prayer). Frozen
before the models with a marketing class and English poetry/classical were trained.
"""
import json
import sys
from pathlib import Path

HERE = Path(__file__).parent
# messy corpus kinds written for the fixture by hand, with their fine genre
MESSY = {"essay": "fiction", "fiction": "fiction", "news": "news", "popsci": "nonfiction", "manual": "technical",
         "review": "nonfiction", "history": "nonfiction", "maths": "nonfiction", "quote_story": "fiction",
         "traditional": "fiction"}

TEXTS = {
    ("zh", "marketing"): [
        "这个夏天，让清凉从一杯冷萃开始。我们精选云南保山的小粒咖啡豆，低温慢萃十二小时，入口柔顺，带着淡淡的坚果与焦糖香。无需咖啡机，撕开包装冲入冰水，三十秒就是一杯专业级冷萃。现在下单，首发价立减二十元，前一千名还送定制玻璃杯。",
        "一张好床垫，是你每天都会用上八小时的投资。三区独立弹簧贴合腰背曲线，天然乳胶层透气不闷热，翻身不打扰枕边人。一百晚免费试睡，不满意全额退款，上门取回不用你操心。睡得好，白天才有力气去爱生活。",
        "妈妈的手，洗过千百次碗，也该被好好照顾一次。我们的护手霜添加乳木果油和积雪草精华，一抹即融，不粘腻，洗完手也能保持滋润。小巧的铝管可以放进任何一个口袋。这个母亲节，把温柔递到她手里。",
        "周末不想出远门？来山里住一晚吧。我们的民宿藏在竹林深处，推开窗就是溪水和鸟鸣。早餐是老板娘亲手做的米粉和土鸡蛋，晚上可以在院子里烤火、看星星。平日入住连住两晚八折，带上家人，把手机调成静音。",
        "全新一代扫地机器人，激光导航精准建图，自动识别地毯加大吸力，遇到袜子和电线会主动绕开。集尘座自动倒垃圾，六十天不用动手。你只管下班回家，地板已经干干净净。",
        "从零基础到能写出自己的小游戏，只需要八周。我们的少儿编程课由一线工程师设计，每节课做一个完整作品，孩子在玩中学会逻辑和耐心。小班教学，每班不超过六人。现在报名可免费试听两节，名额有限。",
    ],
    ("en", "marketing"): [
        "Meet the backpack that goes where you go. Water-resistant fabric, a padded sleeve for your laptop, and a hidden pocket for your passport mean you can walk from the office to the airport without a second thought. It weighs less than a kilo and comes with a lifetime warranty. Order today and get free shipping.",
        "Your morning deserves better coffee. Our beans are roasted in small batches every Monday and shipped the same day, so they arrive at your door at their peak. Choose your roast, choose how often, and pause or cancel anytime. Your first bag is on us.",
        "Say goodbye to tangled cords and dead batteries. The new Aria earbuds give you thirty hours of playback, crystal-clear calls in any wind, and a case that charges in fifteen minutes. Slip them in, press play, and let the world fade away. Available now in four colours.",
        "This winter, come home to warmth. Our down jackets are filled with responsibly sourced goose down and finished with a shell that shrugs off snow and rain. Light enough to pack, warm enough for the coldest mornings. Save 25% this weekend only.",
        "Learning a language should feel like a conversation, not a chore. With ten-minute daily lessons, real native speakers and a plan that adapts to you, our app has helped two million people order their first meal abroad with confidence. Start your free trial today.",
        "Great chairs do not shout. They simply let you work for hours without thinking about your back. Adjustable lumbar support, breathable mesh and armrests that move in four directions make the Ergo One the last office chair you will ever buy. Try it at home for thirty days.",
    ],
    ("zh", "poetry"): [
        "轻轻的我走了，\n正如我轻轻的来；\n我轻轻的招手，\n作别西天的云彩。\n那河畔的金柳，\n是夕阳中的新娘；\n波光里的艳影，\n在我的心头荡漾。",
        "撑着油纸伞，独自\n彷徨在悠长、悠长\n又寂寥的雨巷，\n我希望逢着\n一个丁香一样地\n结着愁怨的姑娘。",
    ],
    ("zh", "classical"): [
        "水陆草木之花，可爱者甚蕃。晋陶渊明独爱菊。自李唐来，世人甚爱牡丹。予独爱莲之出淤泥而不染，濯清涟而不妖，中通外直，不蔓不枝，香远益清，亭亭净植，可远观而不可亵玩焉。",
    ],
    ("en", "poetry"): [
        "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\nRough winds do shake the darling buds of May,\nAnd summer's lease hath all too short a date.",
        "I wandered lonely as a cloud\nThat floats on high o'er vales and hills,\nWhen all at once I saw a crowd,\nA host, of golden daffodils;\nBeside the lake, beneath the trees,\nFluttering and dancing in the breeze.",
        "Because I could not stop for Death,\nHe kindly stopped for me;\nThe carriage held but just ourselves\nAnd Immortality.",
        "Remember me when I am gone away,\nGone far away into the silent land;\nWhen you can no more hold me by the hand,\nNor I half turn to go yet turning stay.",
    ],
    ("en", "classical"): [
        "Studies serve for delight, for ornament, and for ability. Their chief use for delight is in privateness and retiring; for ornament, is in discourse; and for ability, is in the judgment and disposition of business. Read not to contradict and confute; nor to believe and take for granted; nor to find talk and discourse; but to weigh and consider.",
        "Dearly beloved, we are gathered together here in the sight of God, and in the face of this congregation, to join together this man and this woman in holy Matrimony; which is an honourable estate, instituted of God in the time of man's innocency, signifying unto us the mystical union that is betwixt Christ and his Church.",
    ],
    ("en", "fiction"): [
        "The last bus had gone, so Mara walked. The road out of town was lined with dark houses, and somewhere a dog barked twice and then thought better of it. She kept her hands in her pockets and counted the streetlights, the way her brother used to when they were small. At the nineteenth light she saw his car, parked where it had always been, and her heart did something she had not expected.",
        "\"You kept it,\" he said, holding up the old key. \"After all these years.\" His grandmother only smiled and went on shelling peas. \"Some doors,\" she said, \"you never know when you will want to open again.\"",
    ],
    ("en", "news"): [
        "The city council voted 7-2 on Tuesday to extend the downtown tram line by three kilometres, ending months of debate over its cost. Construction is expected to begin next spring and finish by 2028, officials said. Opponents argued the money should go to road repairs, while supporters pointed to rising ridership since the line opened.",
        "Heavy rain flooded parts of the coastal highway overnight, closing two lanes and stranding dozens of drivers, the regional transport authority said on Friday. No injuries were reported. Crews expect to reopen the road by the afternoon, and forecasters warned that more rain is likely over the weekend.",
    ],
    ("en", "nonfiction"): [
        "Why do cats purr? For a long time scientists assumed purring simply meant contentment, but cats also purr when they are injured, giving birth or close to death. One theory holds that the low-frequency vibration helps bones and tissue heal; another that it is a signal to others that the cat means no harm.",
        "Bread is one of the oldest prepared foods. Archaeologists have found charred crumbs more than fourteen thousand years old in Jordan, long before farming began, which suggests that people baked with wild grains before they learned to grow them.",
    ],
    ("en", "technical"): [
        "To back up the database, stop the service first, then copy the data directory to a separate disk. Restart the service and check the log for errors. For a consistent copy without downtime, use the built-in dump command, which writes a snapshot that can be restored on any machine running the same major version.",
        "The function returns a list of records sorted by date. If the optional limit argument is given, only the first limit records are returned. Passing a negative limit raises a ValueError. The call is thread-safe, but results may be stale by up to one second because of caching.",
    ],
}


def rows() -> list[dict]:
    out = []
    for ln in (HERE / "messy_corpus.jsonl").read_text(encoding="utf-8").splitlines():
        d = json.loads(ln)
        m = d["metadata"]
        if m["expect"] == "keep" and m["source"] == "hand-written":
            out.append({"id": f"messy-{d['id']}", "lang": m["lang"], "genre": MESSY[m["kind"]], "text": d["text"]})
    for (lang, genre), texts in TEXTS.items():
        out += [{"id": f"{lang}-{genre}-{i}", "lang": lang, "genre": genre, "text": t} for i, t in enumerate(texts)]
    return out


if __name__ == "__main__":
    Path(sys.argv[1]).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows()), encoding="utf-8")
