"""annotate/reading.py: one reading length for every script, so the minimum read time and the
length-bias statistics treat a Korean answer like an English one of the same content."""

from annotate.reading import reading_length, reading_seconds

ENGLISH = (
    "To make a good cup of tea, first boil fresh water. Warm the teapot with a little hot water "
    "and pour it away. Put in one teaspoon of tea leaves per cup, add the boiling water and let "
    "it steep for three to five minutes. Strain the tea into cups and add milk or sugar if you "
    "like. Green tea is better with water that has cooled a little, at about eighty degrees."
)
KOREAN = (
    "맛있는 차 한 잔을 만들려면 먼저 신선한 물을 끓이세요. 뜨거운 물을 조금 부어 찻주전자를 "
    "데운 뒤 그 물은 버립니다. 한 잔에 찻잎 한 티스푼을 넣고 끓는 물을 부은 다음 3분에서 5분 "
    "동안 우려내세요. 차를 걸러 잔에 따르고 원하면 우유나 설탕을 넣으세요. 녹차는 물을 조금 "
    "식혀 80도 정도에서 우리는 것이 더 좋습니다."
)


def test_an_english_and_a_korean_answer_of_the_same_content_take_about_as_long_to_read():
    assert len(KOREAN) < 0.6 * len(ENGLISH)  # counted in characters, Korean looks far shorter
    en, ko = reading_seconds(ENGLISH), reading_seconds(KOREAN)
    assert abs(en - ko) / en < 0.3, (en, ko)
    assert abs(reading_length(ENGLISH) - reading_length(KOREAN)) / len(ENGLISH) < 0.3


def test_english_reads_at_238_words_a_minute_and_its_length_stays_near_its_character_count():
    assert abs(reading_length(ENGLISH) - len(ENGLISH)) / len(ENGLISH) < 0.15
    words = len(ENGLISH.split())
    assert abs(reading_seconds(ENGLISH) - words / 238 * 60) / reading_seconds(ENGLISH) < 0.2
    assert reading_length("x" * 1000) == 1000  # a long token: a standard word per 5 letters


def test_each_script_counts_in_its_own_unit():
    assert reading_seconds("") == 0
    assert reading_seconds("가" * 400) == 60  # Hangul syllables: 400 a minute
    assert reading_seconds("茶" * 240) == 60  # ideographs: 240 a minute
    assert reading_seconds("ひ" * 450) == 60  # kana: 450 a minute
    assert reading_seconds("Unicode, façade!") == reading_seconds("Ünïcode façade")  # Latin
    assert reading_seconds("Да, мир") == 2 * 60 / 238  # Cyrillic: two words
    assert reading_seconds(" ... , ;") == 0  # spaces and punctuation cost nothing
