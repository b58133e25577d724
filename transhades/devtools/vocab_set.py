"""The vocabulary benchmark's sentences: Indonesian and English, each with one or two rare names or terms (people,
ministries, places, companies), read by espeak-ng; and sentences without any of them, and silence, on which nothing
of the vocabulary may appear. The vocabulary is every term of the set, as a chat would list them."""

from __future__ import annotations

WITH_TERMS = (
    ("id", "Rapat dengan Kemendikbudristek dipimpin oleh Sutrisno Wibowo hari Senin.",
     ("Kemendikbudristek", "Sutrisno Wibowo")),
    ("id", "Laporan Bappenas dikirim ke Pak Harjono Sukarno minggu depan.", ("Bappenas", "Harjono Sukarno")),
    ("id", "Ibu Megawati Soekarnoputri berbicara di Universitas Gadjah Mada kemarin.",
     ("Megawati Soekarnoputri", "Gadjah Mada")),
    ("id", "Kantor Pertamina di Balikpapan menerima tamu dari Kementerian Keuangan.", ("Pertamina", "Balikpapan")),
    ("id", "Kami bertemu Bu Wulandari Prasetyo di pelabuhan Tanjung Priok.", ("Wulandari Prasetyo", "Tanjung Priok")),
    ("id", "Aplikasi Tokopedia dan Gojek dibahas dalam seminar itu.", ("Tokopedia", "Gojek")),
    ("id", "Pak Bambang Sudarsono akan terbang ke Jayapura besok pagi.", ("Bambang Sudarsono", "Jayapura")),
    ("id", "Data dari Badan Meteorologi Klimatologi dan Geofisika sudah diperbarui.",
     ("Badan Meteorologi Klimatologi dan Geofisika",)),
    ("en", "Please ask Pak Wicaksono about the Pertamina contract in Balikpapan.", ("Wicaksono", "Pertamina")),
    ("en", "The driver met Ibu Ratna Sarumpaet near Tanjung Priok harbour.", ("Ratna Sarumpaet", "Tanjung Priok")),
    ("en", "Our team from Kemendikbudristek will visit Jayapura in March.", ("Kemendikbudristek", "Jayapura")),
    ("en", "Sutrisno Wibowo sent the Bappenas report this morning.", ("Sutrisno Wibowo", "Bappenas")),
    ("en", "The new office of Tokopedia opened next to the Gojek building.", ("Tokopedia", "Gojek")),
    ("en", "Bambang Sudarsono studied at Gadjah Mada for four years.", ("Bambang Sudarsono", "Gadjah Mada")),
    ("en", "Wulandari Prasetyo will present the budget on Friday.", ("Wulandari Prasetyo",)),
    ("en", "Harjono Sukarno called from Surabaya about the shipment.", ("Harjono Sukarno", "Surabaya")),
)

WITHOUT_TERMS = (
    ("id", "Kami akan membahas anggaran kantor untuk bulan depan bersama semua pegawai."),
    ("id", "Hujan turun sejak pagi sehingga jalan di depan rumah menjadi licin."),
    ("id", "Tolong kirimkan dokumen itu sebelum jam tiga sore."),
    ("en", "The weather was nice and we went to the market to buy some bread."),
    ("en", "Please send me the minutes of the meeting before Friday."),
    ("en", "The train to the airport leaves at seven in the morning."),
)


def vocabulary() -> tuple[str, ...]:
    seen: list[str] = []
    for _, _, terms in WITH_TERMS:
        seen += [t for t in terms if t not in seen]
    return tuple(seen)
