"""What the bot says, in English and Indonesian, picked from the user's Telegram language code."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "help": ("Send or forward a voice note, audio, video, video note, or an audio/video file and I reply with "
                 "the transcript.\n\n/provider choose who transcribes\n/language auto or a fixed language\n"
                 "/format text, txt, srt or vtt\n/speakers on|off|auto who said what (/speakers name 2 Budi; /speakers remember on)\n/history your latest transcripts (/history off: keep nothing)\n"
                 "/vocab add A, B names and terms to spell right in this chat (/vocab lists them)\n"
                 "/search WORDS find them by what was said\n/export txt|md|srt|vtt the latest as a file\n"
                 "/translate LANG translate the latest (e.g. /translate en)\n/summary summarize the latest\n"
                 "/stats what you transcribed\n/forget delete everything kept about you\n"
                 "/cancel stop your jobs\n/status how the bot is doing"),
        "history_off": "History is off: nothing of yours is kept from now on. /forget deletes what is kept; "
                       "/history on turns it on again.",
        "history_on": "History is on: your transcripts are kept for {days} days. /history off turns it off.",
        "history_is_off": "Your history is off: nothing is kept. /history on turns it on.",
        "history_disabled": "This bot keeps no history.",
        "forget_stays_off": " History stays off, as you chose.",
        "button_translate": "Translate",
        "button_summary": "Summary",
        "button_srt": "SRT",
        "translate_pick": "Translate into which language?",
        "translate_usage": "Write the language to translate into: /translate en, /translate id, …",
        "translate_unknown": "I do not know the language code '{value}'. Use a code such as en, id, es or de.",
        "nothing_kept": "No transcript of yours is kept to work on. Send a recording first (and /history on, if "
                        "you turned it off).",
        "translate_needs_llm": "I cannot translate into {language} on this bot; /translate en (English) works.",
        "translate_needs_local": "This bot cannot translate transcripts.",
        "translate_no_media": "I no longer have the recording of this transcript; send it again to translate it.",
        "summary_needs_llm": "This bot cannot summarize transcripts.",
        "translating": "Translating into {language}…",
        "summarizing": "Summarizing…",
        "translation_title": "Translation ({language}):",
        "summary_title": "Summary:",
        "model_failed": "Could not finish this: {reason}",
        "model_busy": "The language model is busy; please try again in about {wait}.",
        "model_pending": "I am still working on your last translation or summary; one at a time, please.",
        "history_empty": "Nothing kept yet: your transcripts are kept here for {length}.",
        "history_title": "Your latest transcripts (press a number to get one again):",
        "history_line": "{n}. {date} · {length} · {words}",
        "search_usage": "Write what you are looking for: /search WORDS",
        "search_too_broad": "That search is too broad to answer quickly; add a word or two that was said.",
        "commands_limited": "You have sent {limit} commands in the last minute; please wait {wait}.",
        "search_none": "No transcript of yours says “{words}”.",
        "search_title": "Found (best first; press a number to get it again):",
        "search_line": "{n}. {date}: {passage}",
        "export_usage": "Export the latest transcript as a file: /export txt, md, srt or vtt",
        "forget_ask": "Delete everything kept about you: your transcripts, your settings, the voiceprints you named "
                      "and the vocabulary you added?",
        "forget_yes": "Delete everything",
        "forget_no": "Keep it",
        "forget_done": "Deleted: {what}. Nothing about you is kept now.",
        "forget_partial": "Deleted: {what}. The cache could not be reached just now; send /forget again in a "
                          "few minutes to finish.",
        "erased_transcripts": "{count} kept transcript(s) with their search index",
        "erased_cache": "{count} cached transcript(s)",
        "erased_journal": "{count} delivery record(s)",
        "erased_settings": "your settings",
        "vocab_usage": "Use /vocab add Kemendikbudristek, Sutrisno Wibowo · /vocab remove NAME · /vocab clear · /vocab "
                       "to list them.",
        "vocab_empty": "Give the names or terms, separated by commas, e.g. /vocab add Kemendikbudristek, Sutrisno "
                       "Wibowo.",
        "vocab_markup": "\u201c{term}\u201d looks like markup, a link or a mention; give plain names and terms.",
        "vocab_term_too_long": "\u201c{term}\u201d is longer than {most} characters; give shorter names or terms.",
        "vocab_full": "This chat's vocabulary would pass {most} terms (it has {have}); remove some first with "
                      "/vocab remove.",
        "vocab_added": "Added: {terms}. This chat's vocabulary has {count} terms; every new recording here is "
                       "transcribed with them.",
        "vocab_nothing_new": "Those are in this chat's vocabulary already.",
        "vocab_removed": "Removed: {terms}.",
        "vocab_not_there": "None of those is in this chat's vocabulary; /vocab lists it.",
        "vocab_cleared": "This chat's vocabulary is empty now ({count} removed).",
        "vocab_list": "This chat's vocabulary ({count}): {terms}",
        "vocab_list_none": "This chat has no vocabulary. Add the names and terms your recordings use, e.g. /vocab add "
                           "Kemendikbudristek, Sutrisno Wibowo.",
        "vocab_configured": "For every chat: {terms}",
        "vocab_admins_only": "Only the group's admins can change its vocabulary.",
        "erased_vocabulary": "{count} vocabulary terms you added",
        "erased_voices": "{count} voiceprints you named",
        "erased_nothing": "nothing was kept about you",
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
        "partial_one": "Transcribing… so far:\n\n{text}",
        "waiting_telegram": "Telegram asks me to slow down. I will continue by myself in about {wait}. Files I "
                            "transcribed before are still answered at once.",
        "waiting_providers": "All transcription services are busy. I will continue by myself in about {wait}.",
        "done": "Done.",
        "done_cached": "Done (I had transcribed this file before).",
        "failed": "Could not transcribe this file: {reason}",
        "cancelled": "Cancelled.",
        "cancel_count": "Cancelled {count} job(s).",
        "forget_cancelled": "Cancelled your {count} running job(s): nothing of them will be kept.",
        "answer_cut": "(The model's answer was cut here, at {most} characters.)",
        "cancel_none": "You have no running jobs.",
        "empty": "(no speech found)",
        "full_text": "The full transcript as a file.",
        "full_answer": "The whole answer as a file.",
        "provider_pick": "Who should transcribe your files? Now: {current}.",
        "provider_set": "Provider: {value}.",
        "dg_model": "Deepgram model",
        "language_pick": "Which language do you speak? Now: {current}.",
        "language_set": "Language: {value}.",
        "language_bad": "I cannot transcribe a language called '{value}'. Write a code such as id (Indonesian) or "
                        "en (English), or auto; /language shows the choices.",
        "format_bad": "'{value}' is not a format I can send. Choose one of: {choices}.",
        "private_only": "Your transcripts stay between us: send /{command} to me in a private chat.",
        "not_your_button": "This button is for the person who asked.",
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
        "reason_unreadable": "it is not an audio or video file I can read",
        "reason_no_audio": "it has no sound to transcribe",
        "reason_empty_file": "the file is empty",
        "reason_too_long": "the recording is longer than this bot accepts",
        "reason_too_large": "the file is larger than this bot accepts",
        "reason_gone": "the message with this file was deleted",
        "reason_link_private": "the link points to a private or local address, which this bot does not open",
        "reason_link_page": "the link opens a web page, not a recording; send a link to the file itself",
        "reason_link_status": "the link does not open the recording (the server refused or does not have it)",
        "reason_link_redirects": "the link redirects too many times; send the final link",
        "reason_link_slow": "the link's server sends the recording too slowly; try again later or send the file itself",
        "reason_link_unreachable": "the link's server cannot be reached right now; try again later",
        "reason_link_bad": "that is not an http(s) link to a recording",
        "reason_link_port": "the link's port is not a number from 1 to 65535; check the link",
        "reason_links_off": "this bot does not open links; send the file itself",
        "links_off": "This bot does not open links; send the recording itself as a file or voice note.",
        "chat_settings": "This chat: automatic transcription {auto}, quiet {silent}, language {language}, format {format}, speakers {speakers}. Admins change them with /auto on|off, /silent on|off, /language CODE|auto, /format text|txt|srt|vtt, /speakers on|off|auto.",
        "chat_admins_only": "Only this chat's admins can change its settings.",
        "admin_check_failed": "I could not check your admin status with Telegram just now; try again in a minute.",
        "chat_auto_on": "From now on I transcribe every voice note and video note in this chat.",
        "chat_auto_off": "From now on I transcribe here only when asked: mention me, or reply /transcribe to a recording.",
        "chat_silent_on": "Quiet mode: no status messages in this chat, only the transcript as a reply.",
        "chat_silent_off": "Status messages are back on in this chat.",
        "chat_format_own": "each member's own",
        "chat_limited": "This chat has sent {limit} recordings in the last minute; the next one can go in {wait}.",
        "word_on": "on",
        "word_off": "off",
        "word_auto": "automatic (recordings of two minutes or more)",
        "speaker_label": "Speaker",
        "speakers_set": "Who said what: {value}.",
        "speakers_unavailable": "This bot cannot tell speakers apart yet (its operator has not installed it), so transcripts come without them until then.",
        "speakers_usage": "Who said what (Speaker 1: …, Speaker 2: …) is now {current}. Choose with /speakers on, /speakers off or /speakers auto.",
        "speakers_name_usage": "To name a speaker, reply to the transcript with /speakers name NUMBER NAME, e.g. /speakers name 2 Budi.",
        "speakers_name_empty": "Give the speaker a name after the number, e.g. /speakers name 2 Budi.",
        "speakers_name_long": "That name is longer than {most} characters; give a shorter one.",
        "speakers_name_number": "A speaker's name cannot be only a number; give a name, e.g. /speakers name 2 Budi.",
        "speakers_name_chars": "A speaker's name takes letters, digits, spaces and . ' - only; leave out other signs and formatting.",
        "speakers_name_none": "That transcript has no speakers told apart, so there is nobody to name. Turn /speakers on and send the recording again.",
        "speakers_name_unknown": "That transcript has {count} speakers; choose a number from 1 to {count}.",
        "speakers_name_taken": "{name} already names another speaker in that transcript; choose another name.",
        "speakers_name_not_yours": "Only the person who sent that recording can name its speakers.",
        "speakers_named": "{who} is {name} now, in this transcript, its exports and your history.",
        "speakers_named_remembered": " This chat will know {name}'s voice in later recordings.",
        "speakers_named_hint": " To have this chat know {name}'s voice next time, turn /speakers remember on and name them in a later transcript.",
        "speakers_remember_usage": "Remembering voices is {current} in this chat. /speakers remember on keeps a voiceprint of each speaker you name, for this chat only; /speakers remember off erases them all.",
        "speakers_remember_on": "This chat now remembers the voices you name (a voiceprint each, for this chat only, erased by /speakers forget NAME, /speakers remember off or /forget).",
        "speakers_remember_off": "This chat no longer remembers voices; {count} voiceprints erased.",
        "speakers_remember_no_history": "This bot keeps nothing (history is off), so it cannot remember voices.",
        "speakers_remember_admins": "Only this chat's admins can turn remembering voices on or off.",
        "speakers_forget_done": "{name}'s voiceprint is erased from this chat.",
        "speakers_forget_unknown": "This chat has no voiceprint named {name}.",
        "speakers_forget_usage": "Say whose voiceprint to erase, e.g. /speakers forget Budi.",
        "speakers_known": "Voices this chat knows: {names}.",
        "speakers_known_none": "This chat knows no voices by name.",
        "speakers_remembering_off": "This chat does not remember voices (/speakers remember on).",
        "reason_no_provider": "no transcription service can do this here",
        "reason_no_text": "there is no text to work on",
        "reason_bad_input": "this file cannot be transcribed",
        "reason_rate_limited": "the transcription services are busy; please try again in a few minutes",
        "reason_provider_down": "the transcription services are not answering; please try again later",
        "reason_provider_auth": "the transcription services are not answering; please try again later",
        "reason_restarting": "the service is restarting; please try again in a moment",
        "reason_internal": "an internal error kept me from finishing; please try again",
        "reason_job_unreadable": "this bot was updated while your file waited and cannot read its job; please send "
                                 "the file again",
    },
    "id": {
        "help": ("Kirim atau teruskan pesan suara, audio, video, video bulat, atau file audio/video, dan saya balas "
                 "dengan transkripnya.\n\n/provider pilih layanan transkripsi\n/language otomatis atau bahasa tetap\n"
                 "/format text, txt, srt atau vtt\n/speakers on|off|auto siapa berkata apa (/speakers name 2 Budi; /speakers remember on)\n/history transkrip terakhir Anda (/history off: jangan simpan)\n"
                 "/vocab add A, B nama dan istilah yang harus tepat ejaannya di obrolan ini (/vocab untuk daftarnya)\n"
                 "/search KATA cari dari isinya\n/export txt|md|srt|vtt yang terakhir sebagai file\n"
                 "/translate BAHASA terjemahkan yang terakhir (mis. /translate en)\n/summary ringkas yang terakhir\n"
                 "/stats apa saja yang Anda transkripsi\n/forget hapus semua yang disimpan tentang Anda\n"
                 "/cancel hentikan pekerjaan Anda\n/status keadaan bot"),
        "history_off": "Riwayat dimatikan: mulai sekarang tidak ada milik Anda yang disimpan. /forget menghapus yang "
                       "sudah tersimpan; /history on menyalakannya lagi.",
        "history_on": "Riwayat menyala: transkrip Anda disimpan selama {days} hari. /history off mematikannya.",
        "history_is_off": "Riwayat Anda mati: tidak ada yang disimpan. /history on menyalakannya.",
        "history_disabled": "Bot ini tidak menyimpan riwayat.",
        "forget_stays_off": " Riwayat tetap mati, sesuai pilihan Anda.",
        "button_translate": "Terjemahkan",
        "button_summary": "Ringkasan",
        "button_srt": "SRT",
        "translate_pick": "Terjemahkan ke bahasa apa?",
        "translate_usage": "Tulis bahasa tujuannya: /translate en, /translate id, …",
        "translate_unknown": "Saya tidak kenal kode bahasa '{value}'. Gunakan kode seperti en, id, es atau de.",
        "nothing_kept": "Tidak ada transkrip Anda yang tersimpan untuk diolah. Kirim rekaman dulu (dan /history on, "
                        "jika Anda mematikannya).",
        "translate_needs_llm": "Bot ini tidak bisa menerjemahkan ke {language}; /translate en (Inggris) bisa.",
        "translate_needs_local": "Bot ini tidak bisa menerjemahkan transkrip.",
        "translate_no_media": "Rekaman transkrip ini sudah tidak ada pada saya; kirim lagi untuk menerjemahkannya.",
        "summary_needs_llm": "Bot ini tidak bisa meringkas transkrip.",
        "translating": "Menerjemahkan ke {language}…",
        "summarizing": "Meringkas…",
        "translation_title": "Terjemahan ({language}):",
        "summary_title": "Ringkasan:",
        "model_failed": "Tidak bisa menyelesaikan ini: {reason}",
        "model_busy": "Model bahasa sedang sibuk; coba lagi dalam sekitar {wait}.",
        "model_pending": "Saya masih mengerjakan terjemahan atau ringkasan Anda sebelumnya; satu per satu, ya.",
        "history_empty": "Belum ada yang disimpan: transkrip Anda disimpan di sini selama {length}.",
        "history_title": "Transkrip terakhir Anda (tekan nomornya untuk mendapatkannya lagi):",
        "history_line": "{n}. {date} · {length} · {words}",
        "search_usage": "Tulis yang Anda cari: /search KATA",
        "search_too_broad": "Pencarian itu terlalu luas untuk dijawab cepat; tambahkan satu atau dua kata yang diucapkan.",
        "commands_limited": "Anda sudah mengirim {limit} perintah dalam semenit terakhir; tunggu {wait}.",
        "search_none": "Tidak ada transkrip Anda yang menyebut “{words}”.",
        "search_title": "Ditemukan (terbaik dulu; tekan nomornya untuk mendapatkannya lagi):",
        "search_line": "{n}. {date}: {passage}",
        "export_usage": "Ekspor transkrip terakhir sebagai file: /export txt, md, srt atau vtt",
        "forget_ask": "Hapus semua yang disimpan tentang Anda: transkrip, pengaturan, sidik suara yang Anda beri "
                      "nama, dan kosakata yang Anda tambahkan?",
        "forget_yes": "Hapus semuanya",
        "forget_no": "Simpan",
        "forget_done": "Dihapus: {what}. Tidak ada lagi yang disimpan tentang Anda.",
        "forget_partial": "Dihapus: {what}. Cache tidak bisa dihubungi saat ini; kirim /forget lagi beberapa menit "
                          "lagi untuk menyelesaikannya.",
        "erased_transcripts": "{count} transkrip tersimpan beserta indeks pencariannya",
        "erased_cache": "{count} transkrip di cache",
        "erased_journal": "{count} catatan pengiriman",
        "erased_settings": "pengaturan Anda",
        "vocab_usage": "Pakai /vocab add Kemendikbudristek, Sutrisno Wibowo · /vocab remove NAMA · /vocab clear · "
                       "/vocab untuk daftarnya.",
        "vocab_empty": "Tulis nama atau istilahnya, dipisah koma, mis. /vocab add Kemendikbudristek, Sutrisno Wibowo.",
        "vocab_markup": "\u201c{term}\u201d tampak seperti markup, tautan, atau mention; tulis nama dan istilah biasa.",
        "vocab_term_too_long": "\u201c{term}\u201d lebih dari {most} karakter; tulis nama atau istilah yang lebih pendek.",
        "vocab_full": "Kosakata obrolan ini akan lebih dari {most} istilah (sekarang {have}); hapus sebagian dulu "
                      "dengan /vocab remove.",
        "vocab_added": "Ditambahkan: {terms}. Kosakata obrolan ini berisi {count} istilah; setiap rekaman baru di sini "
                       "ditranskripsi dengannya.",
        "vocab_nothing_new": "Semua itu sudah ada di kosakata obrolan ini.",
        "vocab_removed": "Dihapus: {terms}.",
        "vocab_not_there": "Tidak ada satu pun dari itu di kosakata obrolan ini; /vocab menampilkan daftarnya.",
        "vocab_cleared": "Kosakata obrolan ini sekarang kosong ({count} dihapus).",
        "vocab_list": "Kosakata obrolan ini ({count}): {terms}",
        "vocab_list_none": "Obrolan ini belum punya kosakata. Tambahkan nama dan istilah yang dipakai di rekaman Anda, "
                           "mis. /vocab add Kemendikbudristek, Sutrisno Wibowo.",
        "vocab_configured": "Untuk semua obrolan: {terms}",
        "vocab_admins_only": "Hanya admin grup yang bisa mengubah kosakatanya.",
        "erased_vocabulary": "{count} istilah kosakata yang Anda tambahkan",
        "erased_voices": "{count} sidik suara yang Anda beri nama",
        "erased_nothing": "tidak ada yang disimpan tentang Anda",
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
        "partial_one": "Mentranskripsi… sejauh ini:\n\n{text}",
        "waiting_telegram": "Telegram meminta saya memperlambat. Saya lanjutkan sendiri dalam sekitar {wait}. File "
                            "yang pernah saya transkripsi tetap langsung dijawab.",
        "waiting_providers": "Semua layanan transkripsi sedang sibuk. Saya lanjutkan sendiri dalam sekitar {wait}.",
        "done": "Selesai.",
        "done_cached": "Selesai (file ini sudah pernah saya transkripsi).",
        "failed": "Tidak bisa mentranskripsi file ini: {reason}",
        "cancelled": "Dibatalkan.",
        "cancel_count": "{count} pekerjaan dibatalkan.",
        "forget_cancelled": "{count} pekerjaan Anda yang sedang berjalan dibatalkan: tidak ada yang akan disimpan.",
        "answer_cut": "(Jawaban model dipotong di sini, pada {most} karakter.)",
        "cancel_none": "Anda tidak punya pekerjaan yang berjalan.",
        "empty": "(tidak ada ucapan)",
        "full_text": "Transkrip lengkap sebagai file.",
        "full_answer": "Jawaban lengkap sebagai file.",
        "provider_pick": "Siapa yang mentranskripsi file Anda? Sekarang: {current}.",
        "provider_set": "Layanan: {value}.",
        "dg_model": "Model Deepgram",
        "language_pick": "Bahasa apa yang Anda gunakan? Sekarang: {current}.",
        "language_set": "Bahasa: {value}.",
        "language_bad": "Saya tidak bisa mentranskripsi bahasa '{value}'. Tulis kode seperti id (Indonesia) atau "
                        "en (Inggris), atau auto; /language menampilkan pilihannya.",
        "format_bad": "'{value}' bukan format yang bisa saya kirim. Pilih salah satu: {choices}.",
        "private_only": "Transkrip Anda hanya untuk Anda: kirim /{command} kepada saya lewat chat pribadi.",
        "not_your_button": "Tombol ini untuk orang yang bertanya.",
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
        "current": "✓ {label}",
        "reason_unreadable": "ini bukan file audio atau video yang bisa saya baca",
        "reason_no_audio": "tidak ada suara untuk ditranskripsi",
        "reason_empty_file": "file ini kosong",
        "reason_too_long": "rekaman ini lebih panjang dari batas bot ini",
        "reason_too_large": "file ini lebih besar dari batas bot ini",
        "reason_gone": "pesan berisi file ini sudah dihapus",
        "reason_link_private": "tautan ini menuju alamat privat atau lokal, yang tidak dibuka oleh bot ini",
        "reason_link_page": "tautan ini membuka halaman web, bukan rekaman; kirim tautan ke file-nya langsung",
        "reason_link_status": "tautan ini tidak membuka rekaman (server menolak atau tidak memilikinya)",
        "reason_link_redirects": "tautan ini dialihkan terlalu banyak kali; kirim tautan akhirnya",
        "reason_link_slow": "server tautan itu mengirim rekamannya terlalu lambat; coba lagi nanti atau kirim filenya langsung",
        "reason_link_unreachable": "server tautan ini tidak bisa dihubungi sekarang; coba lagi nanti",
        "reason_link_bad": "itu bukan tautan http(s) ke sebuah rekaman",
        "reason_link_port": "port pada tautan itu bukan angka 1 sampai 65535; periksa tautannya",
        "reason_links_off": "bot ini tidak membuka tautan; kirim file-nya langsung",
        "links_off": "Bot ini tidak membuka tautan; kirim rekamannya langsung sebagai file atau pesan suara.",
        "chat_settings": "Obrolan ini: transkripsi otomatis {auto}, mode senyap {silent}, bahasa {language}, format {format}, pembicara {speakers}. Admin mengubahnya dengan /auto on|off, /silent on|off, /language KODE|auto, /format text|txt|srt|vtt, /speakers on|off|auto.",
        "chat_admins_only": "Hanya admin obrolan ini yang bisa mengubah pengaturannya.",
        "admin_check_failed": "Saya tidak bisa memeriksa status admin Anda di Telegram saat ini; coba lagi sebentar lagi.",
        "chat_auto_on": "Mulai sekarang saya mentranskripsi setiap pesan suara dan video bulat di obrolan ini.",
        "chat_auto_off": "Mulai sekarang saya mentranskripsi di sini hanya jika diminta: sebut saya, atau balas rekaman dengan /transcribe.",
        "chat_silent_on": "Mode senyap: tidak ada pesan status di obrolan ini, hanya transkrip sebagai balasan.",
        "chat_silent_off": "Pesan status aktif lagi di obrolan ini.",
        "chat_format_own": "pilihan masing-masing anggota",
        "chat_limited": "Obrolan ini sudah mengirim {limit} rekaman dalam semenit terakhir; rekaman berikutnya bisa dalam {wait}.",
        "word_on": "aktif",
        "word_off": "mati",
        "word_auto": "otomatis (rekaman dua menit atau lebih)",
        "speaker_label": "Pembicara",
        "speakers_set": "Siapa berkata apa: {value}.",
        "speakers_unavailable": "Bot ini belum bisa membedakan pembicara (operatornya belum memasangnya), jadi transkrip datang tanpa label pembicara sampai saat itu.",
        "speakers_usage": "Siapa berkata apa (Pembicara 1: …, Pembicara 2: …) sekarang {current}. Pilih dengan /speakers on, /speakers off atau /speakers auto.",
        "speakers_name_usage": "Untuk memberi nama pembicara, balas transkripnya dengan /speakers name NOMOR NAMA, mis. /speakers name 2 Budi.",
        "speakers_name_empty": "Tulis nama pembicara setelah nomornya, mis. /speakers name 2 Budi.",
        "speakers_name_long": "Nama itu lebih dari {most} karakter; pakai yang lebih pendek.",
        "speakers_name_number": "Nama pembicara tidak boleh hanya angka; tulis nama, mis. /speakers name 2 Budi.",
        "speakers_name_chars": "Nama pembicara hanya boleh berisi huruf, angka, spasi dan . ' -; hapus tanda dan format lainnya.",
        "speakers_name_none": "Transkrip itu tidak membedakan pembicara, jadi tidak ada yang bisa diberi nama. Aktifkan /speakers on lalu kirim rekamannya lagi.",
        "speakers_name_unknown": "Transkrip itu punya {count} pembicara; pilih nomor 1 sampai {count}.",
        "speakers_name_taken": "{name} sudah menjadi nama pembicara lain di transkrip itu; pilih nama lain.",
        "speakers_name_not_yours": "Hanya pengirim rekaman itu yang bisa memberi nama pembicaranya.",
        "speakers_named": "{who} sekarang bernama {name}, di transkrip ini, ekspornya, dan riwayat Anda.",
        "speakers_named_remembered": " Obrolan ini akan mengenali suara {name} di rekaman berikutnya.",
        "speakers_named_hint": " Agar obrolan ini mengenali suara {name} lain kali, aktifkan /speakers remember on lalu beri nama di transkrip berikutnya.",
        "speakers_remember_usage": "Mengingat suara {current} di obrolan ini. /speakers remember on menyimpan sidik suara setiap pembicara yang Anda beri nama, hanya untuk obrolan ini; /speakers remember off menghapus semuanya.",
        "speakers_remember_on": "Obrolan ini sekarang mengingat suara yang Anda beri nama (satu sidik suara masing-masing, hanya untuk obrolan ini, dihapus dengan /speakers forget NAMA, /speakers remember off atau /forget).",
        "speakers_remember_off": "Obrolan ini tidak lagi mengingat suara; {count} sidik suara dihapus.",
        "speakers_remember_no_history": "Bot ini tidak menyimpan apa pun (riwayat nonaktif), jadi tidak bisa mengingat suara.",
        "speakers_remember_admins": "Hanya admin obrolan ini yang bisa mengaktifkan atau mematikan pengingat suara.",
        "speakers_forget_done": "Sidik suara {name} sudah dihapus dari obrolan ini.",
        "speakers_forget_unknown": "Obrolan ini tidak punya sidik suara bernama {name}.",
        "speakers_forget_usage": "Sebutkan sidik suara siapa yang dihapus, mis. /speakers forget Budi.",
        "speakers_known": "Suara yang dikenal obrolan ini: {names}.",
        "speakers_known_none": "Obrolan ini belum mengenal suara siapa pun.",
        "speakers_remembering_off": "Obrolan ini tidak mengingat suara (/speakers remember on).",
        "reason_no_provider": "tidak ada layanan transkripsi yang bisa melakukannya di sini",
        "reason_no_text": "tidak ada teks untuk diolah",
        "reason_bad_input": "file ini tidak bisa ditranskripsi",
        "reason_rate_limited": "layanan transkripsi sedang sibuk; coba lagi beberapa menit lagi",
        "reason_provider_down": "layanan transkripsi tidak menjawab; coba lagi nanti",
        "reason_provider_auth": "layanan transkripsi tidak menjawab; coba lagi nanti",
        "reason_restarting": "layanan sedang dimulai ulang; coba lagi sebentar lagi",
        "reason_internal": "ada kesalahan internal; coba lagi",
        "reason_job_unreadable": "bot ini diperbarui selagi file Anda menunggu dan tidak bisa membaca tugasnya; "
                                 "kirim filenya lagi",
    },
}


STATES = {"id": {"running": "berjalan", "starting": "memulai", "restarting": "memulai ulang", "failed": "gagal",
                  "stopped": "berhenti", "quarantined": "dikarantina", "absent": "tidak ada", "closed": "tertutup",
                  "open": "terbuka", "half_open": "setengah terbuka",
                  "standby": "siaga", "stopping": "sedang berhenti"}}


def state_word(lang: str, state: str) -> str:
    """An actor's or a breaker's state in the user's language (the English names are the states' own)."""
    return STATES.get(lang, {}).get(state, state)


LANGUAGE_NAMES = {"id": {"en": "Inggris", "id": "Indonesia", "ms": "Melayu", "jv": "Jawa", "su": "Sunda", "ar": "Arab",
                         "zh": "Mandarin", "hi": "Hindi", "es": "Spanyol", "fr": "Prancis", "de": "Jerman",
                         "ja": "Jepang", "ko": "Korea", "ru": "Rusia", "nl": "Belanda", "pt": "Portugis"}}


def language_name(code: str, lang: str) -> str:
    """A language's name in the user's language: ``es`` is Spanish, or Spanyol."""
    from transhades.providers.languages import name_of

    return LANGUAGE_NAMES.get(lang, {}).get(code) or name_of(code)


def language_of(code: str | None) -> str:
    return "id" if code and code.lower().startswith(("id", "ms", "jv", "su")) else "en"


def say(lang: str, key: str, **values: object) -> str:
    table = TEXTS.get(lang, TEXTS["en"])
    return (table.get(key) or TEXTS["en"][key]).format(**values)


def reason_text(lang: str, error: object) -> str:
    """Why something failed, as a sentence in the user's language: by the error's reason, else its kind. The
    error's own message (English, technical) is for the log, never for the user."""
    for key in (getattr(error, "reason", None), getattr(error, "kind", None)):
        if key and f"reason_{key}" in TEXTS["en"]:
            return say(lang, f"reason_{key}")
    return say(lang, "reason_internal")


def duration_words(seconds: float, lang: str, days: bool = False) -> str:
    """``days``: a keeping time, said in days from two days on (30 days, not 720 h)."""
    if days and seconds >= 2 * 86400:
        count = seconds / 86400
        return f"{count:.0f} {'hari' if lang == 'id' else 'days'}" if count == int(count) else \
            f"{count:.1f} {'hari' if lang == 'id' else 'days'}"
    seconds = max(1, int(round(seconds)))
    if seconds < 90:
        return f"{seconds} {'detik' if lang == 'id' else 's'}"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} {'menit' if lang == 'id' else 'min'}"
    return f"{minutes / 60:.1f} {'jam' if lang == 'id' else 'h'}"
