"""The mixed-language benchmark's turns: Indonesian and English, two sentences each (10-20 s when espeak-ng reads
them), each language read by several voices. A recording alternates them, as Indonesians mix the two in one note."""

from __future__ import annotations

INDONESIAN = (
    "Selamat pagi semuanya. Hari ini kita akan membahas anggaran kantor untuk bulan depan bersama semua pegawai.",
    "Kalau begitu, tolong kirimkan laporan itu sebelum jam tiga sore. Kami harus memeriksanya sebelum rapat besok.",
    "Baik, terima kasih banyak. Jangan lupa menghitung biaya listrik dan air untuk gedung yang baru.",
    "Hujan turun sejak pagi sehingga jalan di depan rumah menjadi licin. Anak anak tidak bisa bermain di luar.",
    "Saya sudah berbicara dengan kepala sekolah kemarin sore. Beliau setuju untuk menambah kelas baru tahun depan.",
    "Harga beras di pasar naik lagi minggu ini. Ibu saya harus membeli lebih sedikit dari biasanya.",
)

ENGLISH = (
    "Thank you. I have prepared the numbers from last quarter, and the costs for travel went up quite a lot.",
    "Sure, I will send the report this afternoon. We can discuss it again on Friday morning before lunch.",
    "The new building uses less electricity, so the total should be lower than we expected last year.",
    "The train to the airport leaves at seven in the morning. Please be at the station a little earlier.",
    "I think we should hire two more people for the support team. The queue of questions is getting longer.",
    "The weather was nice yesterday, so we went to the market and bought some bread and fresh fruit.",
)

VOICES = {"id": ("id+m3", "id+f2", "id"), "en": ("en-us+f3", "en+m2", "en-gb")}


def recordings(quick: bool) -> list[list[tuple[str, str, str]]]:
    """Each recording as its turns (language, espeak-ng voice, text; each turn two entries of its language's list,
    about 16 s), alternating, starting with Indonesian or English in turn: quick, two recordings of four and six
    turns; full, four of four to eight."""
    sizes = (4, 6) if quick else (4, 6, 8, 6)
    out = []
    for n, size in enumerate(sizes):
        first, second = ("id", "en") if n % 2 == 0 else ("en", "id")
        turns = []
        for k in range(size):
            language = first if k % 2 == 0 else second
            texts = INDONESIAN if language == "id" else ENGLISH
            at = n * 2 + k  # each recording starts elsewhere in the lists
            turns.append((language, VOICES[language][(n + k) % 3],
                          f"{texts[at % len(texts)]} {texts[(at + 3) % len(texts)]}"))
        out.append(turns)
    return out
