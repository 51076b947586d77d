"""`plain_names`: escaped internal identifiers become plain, unique ones; ports, a child's
port names and the behaviour-bearing text around them stay as they were (issue 24)."""

from __future__ import annotations

from flexspim.hdl.emit import plain_names

CHILD = """\
module child (\\p$1 , q);
  input \\p$1 ;
  wire \\p$1 ;
  output q;
  wire \\$3 ;
  assign \\$3  = ~\\p$1 ;
  assign q = \\$3 ;
endmodule
"""

PARENT = """\
module parent (a, y);
  input a;
  output y;
  wire \\$3 ;
  wire _3;
  wire \\start$81 ;
  wire \\ev.tick ;
  reg \\reg ;
  assign \\$3  = a;
  assign \\start$81  = \\$3  & \\ev.tick ;
  child  u (
    .\\p$1 (\\start$81 ),
    .q(y)
  );
endmodule
"""


def test_internal_names_become_plain_and_unique():
    out = plain_names(PARENT)
    assert "\\" not in out.replace(".\\p$1 (", "")
    # `_3` is taken: the renamed `\$3` takes the next free suffix; `.` and `$` become `_`;
    # a keyword escaped as such gets an underscore
    assert "wire _3_1 ;" in out and "wire _3;" in out
    assert "assign start_81  = _3_1  & ev_tick ;" in out
    assert "reg _reg_ ;" in out


def test_port_names_and_a_childs_port_connections_are_kept():
    out = plain_names(CHILD + PARENT)
    child = out[:out.index("endmodule")]
    assert "module child (\\p$1 , q);" in child and "assign _3  = ~\\p$1 ;" in child
    assert "    .\\p$1 (start_81 )," in out


def test_deterministic_and_idempotent():
    once = plain_names(CHILD + PARENT)
    assert plain_names(CHILD + PARENT) == once and plain_names(once) == once
    plain = "module m (a);\n  input a;\nendmodule\n"
    assert plain_names(plain) == plain
