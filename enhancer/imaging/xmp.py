"""One simple property of our own in an image's XMP packet: read, add and remove it, leaving the rest alone.

XMP is the metadata that editors and converters carry over when they re-save a photo in another format (a
PNG's iTXt packet becomes a JPEG's APP1 packet), unlike PNG text chunks. We add one ``rdf:Description`` of
our own before ``</rdf:RDF>`` and never re-serialise the user's packet, so their keywords, ratings and edit
history stay byte for byte. Reading parses the packet as XML (a tool may have rewritten our attribute as an
element) and falls back to a plain search when the packet is not well-formed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, unescape

MAX_XMP_BYTES = 1 << 20  # a larger packet is not parsed (no camera or editor writes one)
_RDF_END = b"</rdf:RDF>"
_EMPTY_PACKET = (
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
    "</rdf:RDF>\n"
    "</x:xmpmeta>\n"
    '<?xpacket end="w"?>'
)
_ATTRIBUTE_ENTITIES = {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _description(namespace: str, prefix: str, name: str, value: str) -> bytes:
    text = escape(value, _ATTRIBUTE_ENTITIES)
    return (
        f'<rdf:Description rdf:about="" xmlns:{prefix}="{escape(namespace, _ATTRIBUTE_ENTITIES)}" '
        f'{prefix}:{name}="{text}"/>\n'
    ).encode()


def read_property(xmp: bytes | None, namespace: str, name: str) -> str | None:
    """The value of property ``name`` in ``namespace`` (attribute or element form), or None."""
    if not xmp or len(xmp) > MAX_XMP_BYTES:
        return None
    packet = xmp.rstrip(b"\x00 \n\r\t")
    qualified = f"{{{namespace}}}{name}"
    try:
        root = ET.fromstring(packet)
    except ET.ParseError:
        return _search_property(packet, name)
    for element in root.iter():
        if qualified in element.attrib:
            return element.attrib[qualified]
        if element.tag == qualified and element.text is not None:
            return element.text.strip()
    return None


def _search_property(packet: bytes, name: str) -> str | None:
    """The plain-text fallback for a packet that is not well-formed XML: ``prefix:name="..."``."""
    match = re.search(rb"\b\w+:" + re.escape(name.encode()) + rb'\s*=\s*"([^"]*)"', packet)
    if match is None:
        return None
    return unescape(match.group(1).decode("utf-8", "replace"), {"&quot;": '"', "&#10;": "\n"})


def with_property(xmp: bytes | None, namespace: str, prefix: str, name: str, value: str) -> bytes | None:
    """``xmp`` (or a new packet) carrying ``prefix:name = value``, replacing an earlier one of ours.

    None when the packet has no ``</rdf:RDF>`` to add to: it is then left as it is rather than rewritten.
    """
    packet = without_property(xmp, namespace, prefix, name) if xmp else _EMPTY_PACKET.encode()
    end = packet.rfind(_RDF_END)
    if end < 0:
        return None
    return packet[:end] + _description(namespace, prefix, name, value) + packet[end:]


def without_property(xmp: bytes | None, namespace: str, prefix: str, name: str) -> bytes | None:
    """``xmp`` less the ``rdf:Description`` that ``with_property`` added (None if nothing else is left)."""
    if not xmp:
        return None
    ours = re.compile(
        rb'<rdf:Description rdf:about="" xmlns:'
        + re.escape(prefix.encode())
        + rb'="'
        + re.escape(escape(namespace, _ATTRIBUTE_ENTITIES).encode())
        + rb'" '
        + re.escape(prefix.encode())
        + rb":"
        + re.escape(name.encode())
        + rb'="[^"]*"/>\n?'
    )
    packet = ours.sub(b"", xmp)
    return None if packet == _EMPTY_PACKET.encode() else packet
