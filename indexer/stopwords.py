"""Stop words per language: the function words keyword search leaves out, as short honest lists.

English is Whoosh's own list (what kb has always used). The others are the most frequent
function words of each language (conjunctions, pronouns, question words, postpositions
written as separate words, copulas), written in their usual spelling; `indexer.terms` folds
them the way it folds text, so a list may use either Arabic or Persian letter forms. A word
of one letter is never a term anyway (terms have at least two characters), so none is listed.

To add a language: add its list here under its ISO 639-1 code. Stop words of different
scripts never collide, so `indexer.terms` checks every token against all of them at once.
"""

from __future__ import annotations

from whoosh.analysis import STOP_WORDS as ENGLISH

TAMIL = """
மற்றும் அல்லது ஆனால் ஒரு இந்த அந்த இது அது இவை அவை என்று என்ற என எனவே மேலும்
நான் நாங்கள் நாம் நீ நீங்கள் அவர் அவர்கள் அவன் அவள் என் எனது எங்கள் உங்கள் உன் அவரது
தான் கூட மிகவும் என்ன ஏன் எப்படி எங்கே எப்போது எந்த யார் இங்கு அங்கு
உள்ள உள்ளது இருந்து இருக்கிறது இல்லை ஆகும் ஆக போது பின்னர் பற்றி மூலம் வரை போன்ற
ஆகிய மட்டும் ஒவ்வொரு அனைத்து
""".split()

TELUGU = """
మరియు లేదా కానీ ఒక అది ఇది అవి ఇవి అని కూడా అయితే కాబట్టి ఇంకా మాత్రమే
నేను మేము మనం మీరు నువ్వు అతను ఆమె వారు వాళ్ళు నా మా మీ మన తన వారి
ఉంది ఉన్న ఉన్నాయి ఉన్నారు లేదు కాదు ఏమి ఏం ఎందుకు ఎలా ఎక్కడ ఎప్పుడు ఎవరు ఏది
చాలా కోసం గురించి మీద వరకు నుండి నుంచి తర్వాత ముందు అన్ని ప్రతి
""".split()

PERSIAN = """
در به از که این آن با را برای است هست بود شد شده می نمی ها های یک تا بر هم نیز
اما یا اگر چون ولی پس همه هر چه چی آیا من ما تو شما او آنها اینها ایشان خود
دیگر باید خیلی روی وقتی کجا چرا چطور هیچ
""".split()

STOP_WORDS_BY_LANGUAGE: dict[str, frozenset[str]] = {
    "en": frozenset(ENGLISH),
    "ta": frozenset(TAMIL),
    "te": frozenset(TELUGU),
    "fa": frozenset(PERSIAN),
}
