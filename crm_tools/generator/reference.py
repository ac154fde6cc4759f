"""Static vocabularies of the sample-data generator: names, places, catalogue words, texts.

Only words live here; every column list comes from the source contracts, except the real
Shopify export layout below, which is a property of the real file format, not of our contract.
"""

from __future__ import annotations

# The 73-column header of a real Shopify admin "Export orders" CSV (the `enavant` export in
# ../shared/real-exports/README.md). The shopify_orders contract columns are a subset of it.
SHOPIFY_EXPORT_HEADER: tuple[str, ...] = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total", "Discount Code",
    "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity", "Lineitem name",
    "Lineitem price", "Lineitem compare at price", "Lineitem sku", "Lineitem requires shipping",
    "Lineitem taxable", "Lineitem fulfillment status", "Billing Name", "Billing Street",
    "Billing Address1", "Billing Address2", "Billing Company", "Billing City", "Billing Zip",
    "Billing Province", "Billing Country", "Billing Phone", "Shipping Name", "Shipping Street",
    "Shipping Address1", "Shipping Address2", "Shipping Company", "Shipping City",
    "Shipping Zip", "Shipping Province", "Shipping Country", "Shipping Phone", "Notes",
    "Note Attributes", "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount",
    "Vendor", "Id", "Tags", "Risk Level", "Source", "Lineitem discount", "Tax 1 Name",
    "Tax 1 Value", "Tax 2 Name", "Tax 2 Value", "Tax 3 Name", "Tax 3 Value", "Tax 4 Name",
    "Tax 4 Value", "Tax 5 Name", "Tax 5 Value", "Phone", "Receipt Number", "Duties",
    "Billing Province Name", "Shipping Province Name", "Payment Terms Name",
    "Next Payment Due At",
)  # fmt: skip

# (surname, pinyin, weight)
SURNAMES: tuple[tuple[str, str, float], ...] = (
    ("王", "wang", 7.1), ("李", "li", 7.0), ("张", "zhang", 6.7), ("刘", "liu", 5.4),
    ("陈", "chen", 4.6), ("杨", "yang", 3.1), ("黄", "huang", 2.4), ("赵", "zhao", 2.3),
    ("吴", "wu", 2.0), ("周", "zhou", 1.9), ("徐", "xu", 1.6), ("孙", "sun", 1.5),
    ("马", "ma", 1.4), ("朱", "zhu", 1.3), ("胡", "hu", 1.3), ("郭", "guo", 1.2),
    ("何", "he", 1.2), ("高", "gao", 1.1), ("林", "lin", 1.1), ("罗", "luo", 1.0),
    ("郑", "zheng", 1.0), ("梁", "liang", 0.9), ("谢", "xie", 0.8), ("宋", "song", 0.8),
    ("唐", "tang", 0.8), ("许", "xu", 0.7), ("韩", "han", 0.7), ("冯", "feng", 0.7),
    ("邓", "deng", 0.7), ("曹", "cao", 0.6), ("彭", "peng", 0.6), ("曾", "zeng", 0.6),
    ("肖", "xiao", 0.6), ("田", "tian", 0.5), ("董", "dong", 0.5), ("袁", "yuan", 0.5),
    ("潘", "pan", 0.5), ("于", "yu", 0.5), ("蒋", "jiang", 0.5), ("蔡", "cai", 0.5),
    ("余", "yu", 0.4), ("杜", "du", 0.4), ("叶", "ye", 0.4), ("程", "cheng", 0.4),
    ("苏", "su", 0.4), ("魏", "wei", 0.4), ("吕", "lv", 0.4), ("丁", "ding", 0.3),
    ("任", "ren", 0.3), ("沈", "shen", 0.3),
)  # fmt: skip

GIVEN_CHARS_F = "芳娜敏静丽艳婷雪琳欣怡佳颖悦梦晨雨萱涵思婉瑶璐倩洁慧琪妍蕾薇"
GIVEN_CHARS_M = "伟强磊军勇杰涛明超辉鹏浩宇轩博文俊峰凯斌昊晨阳帆毅睿哲诚鑫翔"

ENGLISH_NAMES_F = (
    "lily", "grace", "vivian", "cherry", "amy", "coco", "emma", "luna", "iris", "sophia",
    "nina", "zoe", "joy", "kiki", "anna", "wendy", "yuki", "cindy", "stella", "ivy",
)  # fmt: skip
ENGLISH_NAMES_M = (
    "kevin", "jason", "eric", "leo", "tony", "jack", "david", "sam", "ryan", "frank",
    "alex", "vincent", "henry", "ivan", "max", "peter", "simon", "andy", "bruce", "louis",
)  # fmt: skip
PINYIN_SYLLABLES = (
    "xiao", "yu", "ming", "jing", "hui", "fang", "li", "na", "wei", "jie", "yan", "ting",
    "chen", "hao", "lin", "xin", "yi", "jia", "rui", "qi", "meng", "tian", "le", "ke",
)  # fmt: skip

# (domain, weight); large free-mail providers, as real customer lists have them
EMAIL_DOMAINS: tuple[tuple[str, float], ...] = (
    ("qq.com", 0.25), ("163.com", 0.18), ("126.com", 0.07), ("gmail.com", 0.10),
    ("sina.com", 0.05), ("outlook.com", 0.08), ("hotmail.com", 0.06), ("foxmail.com", 0.05),
    ("icloud.com", 0.08), ("yahoo.com", 0.02), ("139.com", 0.03), ("sohu.com", 0.03),
)  # fmt: skip
WORK_EMAIL_DOMAINS = ("hengtai-group.cn", "jiayuan-tech.com", "dongfang-trading.cn")

# Placeholders that real forms are filled with; never a person's identifier.
PLACEHOLDER_EMAILS = ("noemail@example.com", "n/a", "none@none.com")
PLACEHOLDER_PHONES = ("13800000000", "00000000000")

# Mobile prefixes (138 left out so that 13800000000 is never a real number).
MOBILE_PREFIXES = (
    "130", "131", "132", "133", "135", "136", "137", "139", "150", "151", "152", "155",
    "156", "157", "158", "159", "166", "177", "180", "181", "182", "185", "186", "187",
    "188", "189", "191", "198", "199",
)  # fmt: skip

# (city, english, province, province code, region, postcode, weight)
CITIES: tuple[tuple[str, str, str, str, str, str, float], ...] = (
    ("上海", "Shanghai", "上海", "SH", "华东", "200040", 12.0),
    ("北京", "Beijing", "北京", "BJ", "华北", "100020", 11.0),
    ("广州", "Guangzhou", "广东", "GD", "华南", "510620", 7.0),
    ("深圳", "Shenzhen", "广东", "GD", "华南", "518048", 7.0),
    ("杭州", "Hangzhou", "浙江", "ZJ", "华东", "310006", 6.0),
    ("成都", "Chengdu", "四川", "SC", "西南", "610041", 6.0),
    ("南京", "Nanjing", "江苏", "JS", "华东", "210005", 4.0),
    ("武汉", "Wuhan", "湖北", "HB", "华中", "430022", 4.0),
    ("西安", "Xi'an", "陕西", "SN", "西北", "710061", 3.5),
    ("重庆", "Chongqing", "重庆", "CQ", "西南", "400010", 4.0),
    ("苏州", "Suzhou", "江苏", "JS", "华东", "215021", 3.0),
    ("天津", "Tianjin", "天津", "TJ", "华北", "300040", 3.0),
    ("长沙", "Changsha", "湖南", "HN", "华中", "410005", 2.5),
    ("厦门", "Xiamen", "福建", "FJ", "华南", "361004", 2.0),
    ("青岛", "Qingdao", "山东", "SD", "华北", "266071", 2.0),
    ("宁波", "Ningbo", "浙江", "ZJ", "华东", "315010", 2.0),
    ("郑州", "Zhengzhou", "河南", "HA", "华中", "450003", 2.0),
    ("昆明", "Kunming", "云南", "YN", "西南", "650021", 1.5),
    ("沈阳", "Shenyang", "辽宁", "LN", "东北", "110013", 1.5),
    ("大连", "Dalian", "辽宁", "LN", "东北", "116011", 1.5),
)  # fmt: skip
DISTRICTS = ("中心城区", "高新区", "开发区", "新区", "老城区", "滨江区")
STREETS = ("人民路", "解放路", "中山路", "建设路", "南京路", "长安街", "和平路", "文化路")

# (city index, store name); stores sit in the first cities of CITIES
STORES: tuple[tuple[int, str], ...] = (
    (0, "上海静安嘉里中心店"), (0, "上海新天地店"), (1, "北京三里屯太古里店"),
    (2, "广州天河太古汇店"), (3, "深圳万象天地店"), (4, "杭州湖滨银泰店"),
    (5, "成都太古里店"), (6, "南京德基广场店"), (7, "武汉楚河汉街店"), (9, "重庆来福士店"),
)  # fmt: skip

OCCUPATIONS: tuple[tuple[str, float], ...] = (
    ("白领", 0.30), ("教师", 0.06), ("学生", 0.10), ("医生", 0.04), ("工程师", 0.08),
    ("设计师", 0.05), ("自由职业", 0.08), ("公务员", 0.05), ("销售", 0.06),
    ("个体经营", 0.06), ("金融从业者", 0.05), ("退休", 0.04), ("其他", 0.03),
)  # fmt: skip

# Catalogue: (code, 中文, English, min price, max price, sized, items as (中文, English))
CATEGORIES: tuple[tuple[str, str, str, int, int, str, tuple[tuple[str, str], ...]], ...] = (
    ("TP", "上装", "Tops", 199, 1299, "SML", (("真丝衬衫", "Silk Shirt"),
        ("羊毛针织开衫", "Wool Cardigan"), ("纯棉T恤", "Cotton Tee"),
        ("法式条纹衫", "Breton Top"), ("羊绒毛衣", "Cashmere Sweater"))),
    ("BT", "下装", "Bottoms", 259, 999, "SML", (("高腰阔腿裤", "Wide-Leg Pant"),
        ("直筒牛仔裤", "Straight Jeans"), ("百褶半身裙", "Pleated Skirt"),
        ("西装短裤", "Tailored Shorts"))),
    ("DR", "连衣裙", "Dresses", 399, 1599, "SML", (("碎花连衣裙", "Floral Dress"),
        ("针织连衣裙", "Knit Dress"), ("衬衫裙", "Shirt Dress"))),
    ("OW", "外套", "Outerwear", 599, 2999, "SML", (("风衣", "Trench Coat"),
        ("羽绒服", "Down Jacket"), ("羊毛大衣", "Wool Coat"), ("西装外套", "Blazer"))),
    ("SH", "鞋履", "Shoes", 399, 1499, "SHOE", (("乐福鞋", "Loafer"), ("小白鞋", "Sneaker"),
        ("切尔西靴", "Chelsea Boot"), ("玛丽珍鞋", "Mary Jane"))),
    ("BG", "箱包", "Bags", 499, 2599, "", (("托特包", "Tote Bag"), ("斜挎包", "Crossbody Bag"),
        ("双肩包", "Backpack"))),
    ("AC", "配饰", "Accessories", 99, 599, "", (("真丝丝巾", "Silk Scarf"),
        ("羊绒围巾", "Cashmere Scarf"), ("棒球帽", "Baseball Cap"), ("皮革腰带", "Leather Belt"))),
    ("SK", "护肤", "Skincare", 89, 599, "", (("保湿精华", "Hydrating Serum"),
        ("修护面霜", "Repair Cream"), ("氨基酸洁面乳", "Gentle Cleanser"),
        ("清透防晒乳", "Sunscreen"))),
    ("HM", "家居", "Home", 129, 899, "", (("香薰蜡烛", "Scented Candle"),
        ("亚麻床品四件套", "Linen Bedding Set"))),
)  # fmt: skip
STYLES: tuple[tuple[str, str], ...] = (
    ("经典款", "Classic"), ("修身款", "Slim"), ("宽松款", "Relaxed"), ("短款", "Cropped"),
    ("长款", "Long"), ("复古款", "Vintage"), ("轻薄款", "Light"), ("加厚款", "Warm"),
    ("基础款", "Essential"), ("设计师款", "Designer"),
)  # fmt: skip
COLORS: tuple[tuple[str, str, str], ...] = (
    ("黑色", "Black", "BK"), ("米白", "Ivory", "IV"), ("燕麦色", "Oat", "OT"),
    ("雾霾蓝", "Haze Blue", "BL"), ("酒红", "Burgundy", "RD"), ("墨绿", "Forest", "GN"),
    ("卡其", "Khaki", "KH"), ("灰色", "Grey", "GY"),
)  # fmt: skip
SIZES = {"SML": ("S", "M", "L"), "SHOE": ("35", "36", "37", "38", "39")}
# (brand, 中文, weight): the house brand QIMU and three partner labels. No brand holds most
# of the catalogue, so a shopper buys from one brand only by choice (the brand-loyal cohort).
BRANDS: tuple[tuple[str, str, float], ...] = (
    ("QIMU", "栖木", 0.34), ("SUYE", "素野", 0.22), ("Northline", "北线", 0.22),
    ("Maison Lune", "月屋", 0.22),
)  # fmt: skip
TITLE_WORDS = (
    "新款", "百搭", "通勤", "显瘦", "高级感", "小众设计", "气质", "宽松", "ins风", "简约",
)  # fmt: skip
TMALL_SHOP = "QIMU栖木官方旗舰店"

SHOPIFY_NOTES = (
    "Please ship ASAP\nThank you!",
    "Gift wrap please.\nHappy birthday, Mom!",
    "请尽快发货\n谢谢",
    "Leave at the front desk\nCall before delivery",
    "送人的，不要放价格单\n谢谢",
)  # fmt: skip
SHOPIFY_PAYMENT_METHODS: tuple[tuple[str, float], ...] = (
    ("Shopify Payments", 0.45), ("PayPal Express Checkout", 0.30), ("Alipay", 0.15),
    ("Stripe", 0.08), ("manual", 0.02),
)  # fmt: skip
SHOPIFY_SOURCES: tuple[tuple[str, float], ...] = (
    ("web", 0.92), ("shopify_draft_order", 0.03), ("580111", 0.04), ("pos", 0.01),
)  # fmt: skip

TMALL_MESSAGES = (
    "请尽快发货",
    "麻烦发顺丰，谢谢",
    "送人的，请不要放价格单",
    "尺码拿不准，可以换吗",
)
POS_PAYMENTS: tuple[tuple[str, float], ...] = (
    ("wechat_pay", 0.45), ("alipay", 0.35), ("card", 0.12), ("cash", 0.08),
)  # fmt: skip

SOCIAL_PLATFORMS: tuple[tuple[str, float], ...] = (
    ("wechat", 0.30), ("weibo", 0.20), ("douyin", 0.25), ("xiaohongshu", 0.25),
)  # fmt: skip
# (event type, weight, has text)
SOCIAL_EVENT_TYPES: tuple[tuple[str, float, bool], ...] = (
    ("like", 0.40, False), ("comment", 0.20, True), ("share", 0.10, True),
    ("follow", 0.08, False), ("direct_message", 0.07, True), ("review", 0.15, True),
)  # fmt: skip
SOCIAL_TEXTS = {
    "comment": ("好喜欢这个颜色！😍", "什么时候补货呀？", "求链接🙏", "质感看起来很好",
                "这件有没有大码？", "已经下单了，期待💕"),
    "share": ("分享给姐妹们👭", "这个设计太好看了", "种草了🌱", "@闺蜜 快来看"),
    "direct_message": ("请问有门店可以试穿吗？", "我的订单什么时候发货？",
                       "会员积分怎么用？", "可以开发票吗？"),
    "review": ("面料舒服，尺码偏大一点 ⭐⭐⭐⭐⭐", "颜色和图片一致，很满意",
               "物流很快，包装精美🎁", "有点起球，一般般", "第二次回购了，推荐！"),
}  # fmt: skip
SOCIAL_NICK_ADJ = ("爱穿搭的", "喜欢旅行的", "爱吃草莓的", "不吃香菜的", "热爱生活的", "早睡早起的")
SOCIAL_NICK_NOUN = ("小鹿", "猫咪", "兔子", "阿狸", "小熊", "橙子", "月亮", "星星", "柚子")

SERVICE_TOPICS = (
    "订单查询",
    "物流配送",
    "退换货",
    "产品咨询",
    "尺码建议",
    "会员积分",
    "发票",
    "投诉建议",
)
SERVICE_OUTCOMES: tuple[tuple[str, float], ...] = (
    ("resolved", 0.72), ("escalated", 0.11), ("unresolved", 0.17),
)  # fmt: skip

# (channel, campaign, window as ((month, day), (month, day)) or None for always-on, daily CNY
# spend per 1,000 persons, discount in % or None). A campaign with a discount hands out a
# Shopify discount code named like the campaign (SPRING25): the `Discount Code` of an order is
# always the name of a code campaign running that day. The others (search, feeds, posters,
# seeding) carry no code.
CAMPAIGNS: tuple[
    tuple[str, str, tuple[tuple[int, int], tuple[int, int]] | None, float, int | None], ...
] = (
    ("shopify", "Google Shopping", None, 14.0, None),
    ("shopify", "Meta Ads", None, 9.0, None),
    ("shopify", "Email Newsletter", None, 1.5, None),
    ("shopify", "WELCOME10", None, 2.0, 10),
    ("shopify", "VIPDAY15", None, 1.0, 15),
    ("shopify", "SPRING25", ((3, 1), (4, 15)), 12.0, 25),
    ("shopify", "SUMMER20", ((6, 20), (7, 31)), 10.0, 20),
    ("shopify", "BLKFRI30", ((11, 20), (12, 1)), 40.0, 30),
    ("shopify", "Christmas Gift Guide", ((12, 2), (12, 24)), 20.0, None),
    ("tmall", "直通车", None, 16.0, None),
    ("tmall", "引力魔方", None, 8.0, None),
    ("tmall", "年货节", ((1, 5), (1, 25)), 25.0, None),
    ("tmall", "618大促", ((5, 25), (6, 18)), 45.0, None),
    ("tmall", "双11预售", ((10, 20), (11, 11)), 70.0, None),
    ("tmall", "双12", ((12, 1), (12, 12)), 30.0, None),
    ("store", "门店海报", None, 3.0, None),
    ("store", "会员日", None, 2.0, None),
    ("store", "周年庆", ((9, 1), (9, 14)), 20.0, None),
    ("social", "小红书种草", None, 10.0, None),
    ("social", "抖音信息流", None, 12.0, None),
    ("social", "微博话题", ((3, 1), (4, 15)), 15.0, None),
    ("social", "KOL15", ((8, 15), (9, 30)), 25.0, 15),
)  # fmt: skip
# Discount codes: (code = campaign name, % off, index into CAMPAIGNS)
DISCOUNT_CODES: tuple[tuple[str, int, int], ...] = tuple(
    (c[1], c[4], i) for i, c in enumerate(CAMPAIGNS) if c[4] is not None
)
