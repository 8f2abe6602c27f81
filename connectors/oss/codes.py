"""OSS RBA code tables, in one place, each with its source.

Source: the public OSS RBA integration guide (PIA) v4.3.22, repository `oss-rba/oss-rba.github.io` at commit 90fac4f,
`src/footer.md` (Lampiran = appendix) and `src/endpoint.js` (the `@api` blocks). The canonical words on the right are
Gerbang's (connectors/oss/facet.py); the Indonesian labels are the guide's.
"""

from __future__ import annotations

# Lampiran 4 — DATA JENIS IDENTITAS (`jenis_id_user_proses`, `jns_identitas_*`).
IDENTITY_TYPES: dict[str, str] = {"01": "Kartu Tanda Penduduk (KTP)", "02": "Paspor"}
IDENTITY_KTP = "01"

# Lampiran 9 — DATA STATUS RESPON (`kode` of every `respon<method>` reply of OSS).
RESPONSE_CODES: dict[int, str] = {
    200: "Sukses",
    400: "Data Parameter Salah",
    401: "User Akses Tidak Valid",
    403: "Ilegal Inquery /Akses",
    404: "Akses Service Tidak Ditemukan",
    405: "Akses Service Ditolak",
    500: "Proses Payload Data Di Sistem OSS Gagal",
    504: "Proses Payload Data Di Sistem OSS Timeout",
}

# Lampiran 10 — DATA KODE STATUS IZIN (`kd_status` of receiveLicenseStatus, `status_izin` of receiveLicense).
LICENCE_STATUSES: dict[str, str] = {
    "05": "Proses Penapisan",
    "09": "Telah Melengkapi Persyaratan",
    "10": "Dokumen Lengkap",
    "11": "Dokumen Belum Lengkap",
    "12": "Pemenuhan Komitmen",
    "20": "Validasi",
    "30": "Verifikasi Pembayaran",
    "31": "Konfirmasi Pembayaran",
    "32": "Menunggu Verifikasi Bukti Bayar PNBP",
    "33": "Persetujuan Pembayaran",
    "34": "Perbaikan Konfirmasi Pembayaran",
    "40": "Inspeksi",
    "41": "Konfirmasi Persyaratan",
    "42": "Data Konfirmasi Persyaratan",
    "43": "Re-Konfirmasi Persyaratan",
    "44": "Data Re-Konfirmasi Persyaratan",
    "45": "Persyaratan terverifikasi",
    "49": "Pengambilan Nomor",
    "50": "Disetujui",
    "52": "Terbit Sementara",
    "57": "Disetujui secara otomatis oleh sistem OSS (fiktif positif)",
    "60": "Peringatan",
    "70": "Penghentian Sementara Kegiatan Berusaha",
    "80": "Pengenaan Denda Administratif",
    "90": "Ditolak",
    "93": "Penolakan Persyaratan",
}
LICENCE_APPROVED = frozenset({"50", "57"})
LICENCE_REFUSED = frozenset({"90", "93"})

# Lampiran 14 — DATA KODE STATUS DOKUMEN NIB (`status_nib`).
NIB_STATUSES: dict[str, tuple[str, str]] = {
    "01": ("Aktif", "active"),
    "02": ("Belum Aktif", "not_yet_active"),
    "03": ("Diizinkan Usaha", "business_permitted"),
    "04": ("Diizinkan Beroperasi", "operation_permitted"),
    "05": ("Dibekukan", "suspended"),
    "06": ("Dicabut", "revoked"),
}
NIB_ACTIVE = "01"

# Lampiran 18 — DATA KODE JENIS PELAKU USAHA (`jenis_pelaku_usaha`).
ACTOR_TYPES: dict[str, tuple[str, str]] = {
    "01": ("Badan Usaha", "business_entity"),
    "02": ("Perseorangan", "individual"),
    "03": ("Kantor Perwakilan", "representative_office"),
    "04": ("Badan Usaha Luar Negeri", "foreign_business_entity"),
}

# Lampiran 31 — DATA SKALA USAHA (`skala_usaha`).
SCALES: dict[str, tuple[str, str]] = {
    "01": ("Usaha Mikro", "micro"),
    "02": ("Usaha Kecil", "small"),
    "03": ("Usaha Menengah", "medium"),
    "04": ("Usaha Besar", "large"),
}

# Lampiran 27 — DATA JENIS IZIN (`jenis_izin` of a data_checklist item, `jenis_perizinan`).
LICENCE_KINDS: dict[str, str] = {
    "01": "Izin Dasar",
    "02": "Izin",
    "04": "Sertifikat Standar",
    "K02": "Persyarat Standar",
    "K03": "UMKU",
}

# `tipe_dokumen` of dataNIB (endpoint.js, inqueryNIB/receiveNIB field list; no Lampiran of its own).
DOCUMENT_TYPES: dict[str, str] = {"9": "Original", "5": "Update", "3": "Pencabutan", "4": "Pembatalan"}

# `kewenangan` of dataNIB and of a data_checklist item (endpoint.js, receiveNIB): who must process the licence.
AUTHORITIES: dict[str, str] = {"00": "Pusat", "01": "Provinsi", "02": "Kabupaten/Kota"}

# `status` of the `responreceiveNIB` reply a region sends back to OSS (endpoint.js, receiveNIB: "1: TRUE; 2: FALSE").
RECEIVE_NIB_OK = "1"
RECEIVE_NIB_FAILED = "2"


def canonical(table: dict[str, tuple[str, str]]) -> dict[str, str]:
    """code → Gerbang's word, for the mapping file and tests (`{"01": "active", …}`)."""
    return {code: word for code, (_, word) in table.items()}
