"""Mouse strokes for each digit, in pad pixels (the demo's pad is 256x256), one list of
points per stroke, drawn the way people write them (single pen-down where usual).

Used by the browser test (drawn with Playwright's mouse) and by tests/test_digits_demo.py
(rasterised in Python). The training script does not see them.
"""

from __future__ import annotations

import math


def arc(cx, cy, rx, ry, a0, a1, n=16):
    """Points on an elliptic arc from angle a0 to a1 (radians, y down)."""
    return [
        (
            cx + rx * math.cos(a0 + (a1 - a0) * i / n),
            cy + ry * math.sin(a0 + (a1 - a0) * i / n),
        )
        for i in range(n + 1)
    ]


DIGITS = {
    0: [
        [
            (
                128 + 60 * math.sin(t * math.pi / 10),
                128 - 90 * math.cos(t * math.pi / 10),
            )
            for t in range(21)
        ]
    ],
    1: [[(100, 75), (140, 35), (140, 225)]],
    2: [[(70, 80), (100, 40), (160, 40), (180, 90), (70, 220), (200, 220)]],
    3: [
        [
            (70, 55),
            (120, 30),
            (175, 50),
            (180, 95),
            (125, 122),
            (185, 150),
            (180, 200),
            (120, 225),
            (65, 205),
        ]
    ],
    4: [[(150, 30), (60, 160), (200, 160)], [(160, 90), (160, 230)]],
    5: [
        [
            (180, 35),
            (85, 35),
            (75, 115),
            (140, 100),
            (185, 140),
            (180, 195),
            (130, 225),
            (70, 205),
        ]
    ],
    6: [
        [
            (170, 40),
            (110, 60),
            (80, 130),
            (85, 200),
            (130, 225),
            (175, 195),
            (170, 145),
            (120, 130),
            (85, 160),
        ]
    ],
    7: [[(60, 40), (195, 40), (110, 225)]],
    8: [
        [
            (
                128 + 60 * math.sin(t * math.pi / 8),
                128 - 95 * math.cos(t * math.pi / 16),
            )
            for t in range(33)
        ]
    ],
    9: [arc(125, 85, 48, 48, 0, 2 * math.pi, 20) + [(170, 225)]],
}

# Other common ways of writing some digits.
VARIANTS = {
    "1 plain": (1, [[(128, 30), (128, 226)]]),
    "4 open": (4, [[(90, 30), (75, 140), (190, 140)], [(165, 40), (160, 230)]]),
    "7 crossed": (7, [[(60, 40), (195, 40), (110, 225)], [(95, 135), (170, 135)]]),
    "8 two loops": (
        8,
        [
            arc(128, 80, 45, 45, math.pi / 2, 5 * math.pi / 2),
            arc(128, 170, 55, 55, -math.pi / 2, 3 * math.pi / 2),
        ],
    ),
    "9 straight": (
        9,
        [arc(125, 80, 50, 42, -0.3, 2 * math.pi - 0.3, 20) + [(172, 80), (160, 225)]],
    ),
}
