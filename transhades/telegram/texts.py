"""What the bot says, in English and Indonesian, picked from the user's Telegram language code."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "help": ("Send or forward a voice note, audio, video, video note, or an audio/video file and I reply with "
                 "the transcript.\n\n/provider choose who transcribes\n/language auto or a fixed language\n"
                 "/format text, txt, srt or vtt\n/history your latest transcripts\n/search WORDS find them by what was said\n"
                 "/cancel stop your jobs\n/status how the bot is doing"),
        "history_empty": "Nothing kept yet: your transcripts are kept here for {days} days.",
        "history_title": "Your latest transcripts (press a number to get one again):",
        "history_line": "{n}. {date} · {length} · {words}",
        "search_usage": "Write what you are looking for: /search WORDS",
        "search_none": "No transcript of yours says “{words}”.",
        "search_title": "Found (best first; press a number to get it again):",
        "search_line": "{n}. {date}: {passage}",
        "export_usage": "Export the latest transcript as a file: /export txt, md, srt or vtt",
        "forget_ask": "Delete everything kept about you: your transcripts and your settings?",
        "forget_yes": "Delete everything",
        "forget_no": "Keep it",
        "forget_done": "Deleted {count} transcripts{settings}. Nothing about you is kept now.",
        "forget_settings": " and your settings",
        "forget_kept": "Nothing was deleted.",
        "stats": "Transcripts kept: {count}\nAudio: {length}\nLanguages: {languages}\nProviders: {providers}",
        "not_media": "I can transcribe voice notes, audio, video, video notes and audio/video files. Send one of those.",
        "too_large": "This file is {size} MB; the limit is {limit} MB.",
        "too_long": "This recording is {length} long; the limit is {limit}.",
        "not_allowed": "Sorry, this bot is private.",
        "rate_limited": "You have sent {limit} files in the last minute; please send this one again in {wait}.",
        "parked": "The bot is restarting; your file is saved and will be transcribed as soon as it is back.",
        "queued": "In the queue: position {position}.",
        "checking cache": "Checking whether I already know this file…",
        "downloading": "Downloading… {percent}%",
        "preparing audio": "Preparing the audio…",
        "transcribing": "Transcribing…",
        "transcribing_parts": "Transcribing… part {part} of {parts}",
        "partial": "Transcribing… {done} of {parts} parts done so far:\n\n{text}",
        "waiting_telegram": "Telegram asks me to slow down. I will continue by myself in about {wait}. Files I "
                            "transcribed before are still answered at once.",
        "waiting_providers": "All transcription services are busy. I will continue by myself in about {wait}.",
        "done": "Done.",
        "done_cached": "Done (I had transcribed this file before).",
        "failed": "Could not transcribe this file: {reason}",
        "cancelled": "Cancelled.",
        "cancel_count": "Cancelled {count} job(s).",
        "cancel_none": "You have no running jobs.",
        "empty": "(no speech found)",
        "full_text": "The full transcript as a file.",
        "provider_pick": "Who should transcribe your files? Now: {current}.",
        "provider_set": "Provider: {value}.",
        "dg_model": "Deepgram model",
        "language_pick": "Which language do you speak? Now: {current}.",
        "language_set": "Language: {value}.",
        "language_bad": "'{value}' is not a language code. Use a code such as en or id, or auto.",
        "format_pick": "How should transcripts arrive? Now: {current}.",
        "format_set": "Format: {value}.",
        "auto": "automatic",
        "status_admins": "Only admins can see the status.",
        "unknown_command": "I do not know that command. /help lists what I can do.",
        "internal_reason": "an internal error kept me from handling it; please send it again",
        "internal_error": "Sorry, an internal error kept me from handling this message; please send it again.",
        "status_summary": "APIs available: {available}/{total}\nJobs running: {running}/{max}\nCache: {cache}",
        "status_cache_items": "{items} transcripts",
        "status_credentials": "Telegram connections:",
        "status_credential": "• {name}: {state}, {rate}% ok, {requests} requests, {downloads} downloads",
        "status_quarantined": "quarantined until {until} UTC",
        "status_providers": "Providers:",
        "status_provider": "• {name}: {states}, breaker {breaker}{extra}",
        "status_disabled": ", disabled: {why}",
        "status_queue": "Queue: {running} running, {waiting} waiting",
        "status_cache": "Cache: {items}hit rate {rate} ({hits} hits, {misses} misses)",
        "status_jobs": "Jobs: {done} done, {failed} failed",
        "status_cluster": "Cluster:",
        "status_process": "• {name} ({role}): {state}, {jobs} jobs",
        "status_streams": "Streams: {waiting} waiting, {pending} being worked on, {results} results unread, "
                          "{dead} dead letters",
        "current": "✓ {label}",
    },
    "id": {
        "help": ("Kirim atau teruskan pesan suara, audio, video, video bulat, atau file audio/video, dan saya balas "
                 "dengan transkripnya.\n\n/provider pilih layanan transkripsi\n/language otomatis atau bahasa tetap\n"
                 "/format text, txt, srt atau vtt\n/history transkrip terakhir Anda\n/search KATA cari dari isinya\n"
                 "/cancel hentikan pekerjaan Anda\n/status keadaan bot"),
        "history_empty": "Belum ada yang disimpan: transkrip Anda disimpan di sini selama {days} hari.",
        "history_title": "Transkrip terakhir Anda (tekan nomornya untuk mendapatkannya lagi):",
        "history_line": "{n}. {date} · {length} · {words}",
        "search_usage": "Tulis yang Anda cari: /search KATA",
        "search_none": "Tidak ada transkrip Anda yang menyebut “{words}”.",
        "search_title": "Ditemukan (terbaik dulu; tekan nomornya untuk mendapatkannya lagi):",
        "search_line": "{n}. {date}: {passage}",
        "export_usage": "Ekspor transkrip terakhir sebagai file: /export txt, md, srt atau vtt",
        "forget_ask": "Hapus semua yang disimpan tentang Anda: transkrip dan pengaturan Anda?",
        "forget_yes": "Hapus semuanya",
        "forget_no": "Simpan",
        "forget_done": "{count} transkrip{settings} dihapus. Tidak ada lagi yang disimpan tentang Anda.",
        "forget_settings": " dan pengaturan Anda",
        "forget_kept": "Tidak ada yang dihapus.",
        "stats": "Transkrip tersimpan: {count}\nAudio: {length}\nBahasa: {languages}\nLayanan: {providers}",
        "not_media": "Saya bisa mentranskripsi pesan suara, audio, video, video bulat, dan file audio/video. Kirim salah satunya.",
        "too_large": "File ini {size} MB; batasnya {limit} MB.",
        "too_long": "Rekaman ini {length}; batasnya {limit}.",
        "not_allowed": "Maaf, bot ini privat.",
        "rate_limited": "Anda sudah mengirim {limit} file dalam semenit terakhir; kirim lagi file ini dalam {wait}.",
        "parked": "Bot sedang dimulai ulang; file Anda tersimpan dan akan ditranskripsi begitu bot kembali.",
        "queued": "Dalam antrean: posisi {position}.",
        "checking cache": "Memeriksa apakah file ini sudah pernah saya proses…",
        "downloading": "Mengunduh… {percent}%",
        "preparing audio": "Menyiapkan audio…",
        "transcribing": "Mentranskripsi…",
        "transcribing_parts": "Mentranskripsi… bagian {part} dari {parts}",
        "partial": "Mentranskripsi… {done} dari {parts} bagian selesai sejauh ini:\n\n{text}",
        "waiting_telegram": "Telegram meminta saya memperlambat. Saya lanjutkan sendiri dalam sekitar {wait}. File "
                            "yang pernah saya transkripsi tetap langsung dijawab.",
        "waiting_providers": "Semua layanan transkripsi sedang sibuk. Saya lanjutkan sendiri dalam sekitar {wait}.",
        "done": "Selesai.",
        "done_cached": "Selesai (file ini sudah pernah saya transkripsi).",
        "failed": "Tidak bisa mentranskripsi file ini: {reason}",
        "cancelled": "Dibatalkan.",
        "cancel_count": "{count} pekerjaan dibatalkan.",
        "cancel_none": "Anda tidak punya pekerjaan yang berjalan.",
        "empty": "(tidak ada ucapan)",
        "full_text": "Transkrip lengkap sebagai file.",
        "provider_pick": "Siapa yang mentranskripsi file Anda? Sekarang: {current}.",
        "provider_set": "Layanan: {value}.",
        "dg_model": "Model Deepgram",
        "language_pick": "Bahasa apa yang Anda gunakan? Sekarang: {current}.",
        "language_set": "Bahasa: {value}.",
        "language_bad": "'{value}' bukan kode bahasa. Gunakan kode seperti en atau id, atau auto.",
        "format_pick": "Dalam bentuk apa transkrip dikirim? Sekarang: {current}.",
        "format_set": "Format: {value}.",
        "auto": "otomatis",
        "status_admins": "Hanya admin yang bisa melihat status.",
        "unknown_command": "Saya tidak kenal perintah itu. /help berisi yang bisa saya lakukan.",
        "internal_reason": "ada kesalahan internal; silakan kirim lagi",
        "internal_error": "Maaf, ada kesalahan internal saat menangani pesan ini; silakan kirim lagi.",
        "status_summary": "API tersedia: {available}/{total}\nPekerjaan berjalan: {running}/{max}\nCache: {cache}",
        "status_cache_items": "{items} transkrip",
        "status_credentials": "Koneksi Telegram:",
        "status_credential": "• {name}: {state}, {rate}% berhasil, {requests} permintaan, {downloads} unduhan",
        "status_quarantined": "dikarantina sampai {until} UTC",
        "status_providers": "Layanan transkripsi:",
        "status_provider": "• {name}: {states}, pemutus {breaker}{extra}",
        "status_disabled": ", nonaktif: {why}",
        "status_queue": "Antrean: {running} berjalan, {waiting} menunggu",
        "status_cache": "Cache: {items}tingkat temu {rate} ({hits} temu, {misses} tidak)",
        "status_jobs": "Pekerjaan: {done} selesai, {failed} gagal",
        "status_cluster": "Kluster:",
        "status_process": "• {name} ({role}): {state}, {jobs} pekerjaan",
        "status_streams": "Aliran: {waiting} menunggu, {pending} sedang dikerjakan, {results} hasil belum dibaca, "
                          "{dead} surat mati",
    },
}


STATES = {"id": {"running": "berjalan", "starting": "memulai", "restarting": "memulai ulang", "failed": "gagal",
                  "stopped": "berhenti", "quarantined": "dikarantina", "absent": "tidak ada", "closed": "tertutup",
                  "open": "terbuka", "half_open": "setengah terbuka",
                  "standby": "siaga", "stopping": "sedang berhenti"}}


def state_word(lang: str, state: str) -> str:
    """An actor's or a breaker's state in the user's language (the English names are the states' own)."""
    return STATES.get(lang, {}).get(state, state)


def language_of(code: str | None) -> str:
    return "id" if code and code.lower().startswith(("id", "ms", "jv", "su")) else "en"


def say(lang: str, key: str, **values: object) -> str:
    table = TEXTS.get(lang, TEXTS["en"])
    return (table.get(key) or TEXTS["en"][key]).format(**values)


def duration_words(seconds: float, lang: str) -> str:
    seconds = max(1, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} {'detik' if lang == 'id' else 's'}"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} {'menit' if lang == 'id' else 'min'}"
    return f"{minutes / 60:.1f} {'jam' if lang == 'id' else 'h'}"
