"""Our one XMP property: added beside the user's metadata, read in either form, removed without a trace."""

from __future__ import annotations

from enhancer.imaging.xmp import read_property, with_property, without_property

NS, PREFIX, NAME = "urn:example:test:1", "ex", "marker"
USER_PACKET = (
    b'<?xpacket begin="\xef\xbb\xbf" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:subject><rdf:Bag><rdf:li>grandma</rdf:li></rdf:Bag></dc:subject></rdf:Description>"
    b'</rdf:RDF></x:xmpmeta>\n<?xpacket end="w"?>'
)
VALUE = '{"scale":2,"note":"a \\"quoted\\" & <angled> value"}'


def test_a_new_packet_holds_the_value_and_removing_it_leaves_nothing():
    packet = with_property(None, NS, PREFIX, NAME, VALUE)
    assert read_property(packet, NS, NAME) == VALUE
    assert without_property(packet, NS, PREFIX, NAME) is None


def test_the_users_packet_is_kept_byte_for_byte():
    packet = with_property(USER_PACKET, NS, PREFIX, NAME, VALUE)
    assert b"grandma" in packet and read_property(packet, NS, NAME) == VALUE
    replaced = with_property(packet, NS, PREFIX, NAME, "second")
    assert read_property(replaced, NS, NAME) == "second" and replaced.count(b"ex:marker") == 1
    assert without_property(replaced, NS, PREFIX, NAME) == USER_PACKET


def test_absent_damaged_or_huge_packets():
    assert read_property(USER_PACKET, NS, NAME) is None
    assert read_property(None, NS, NAME) is None
    assert read_property(b'<x:xmpmeta ex:marker="v" <<broken', NS, NAME) == "v"  # plain-text fallback
    assert read_property(b"<a/>" + b" " * (2 << 20), NS, NAME) is None
    assert with_property(b"<not-rdf/>", NS, PREFIX, NAME, VALUE) is None  # not rewritten
