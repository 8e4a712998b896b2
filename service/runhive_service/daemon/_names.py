"""Names for runs that were given none: W&B's style, an adjective, a noun and the run's number in its project."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "amber autumn bold brave bright calm clever cosmic crisp dapper dark dawn desert divine eager easy electric "
    "fancy fearless fine floral fluent fresh gallant gentle glad golden graceful grand happy hardy hearty helpful "
    "honest icy jolly jumping kind leafy lilac lively lucky lunar magic mellow misty morning noble northern olive "
    "polar proud quiet rapid rare restful robust royal rustic scarlet silent silver smooth snowy solar spring "
    "stellar still stoic sunny super swift tender thriving toasty twilight upbeat valiant vivid warm wild winter "
    "wise woven young zesty"
).split()
_NOUNS = (
    "aardvark breeze brook butterfly cake canyon cherry cloud comet cosmos dawn deluge dew disco dream dust eon "
    "feather field fire firefly flower fog forest frost galaxy glade glitter grass hill haze lake leaf meadow "
    "moon morning mountain night oath ocean paper pine planet plasma pond puddle rain resonance river sea "
    "serenity shadow sky smoke snow sound spaceship spark star sun sunset surf thunder tree universe valley "
    "violet voice water wave wildflower wind wood"
).split()


def new_name(taken: set[str]) -> str:
    n = len(taken) + 1
    rng = random.Random()
    while True:
        name = f"{rng.choice(_ADJECTIVES)}-{rng.choice(_NOUNS)}-{n}"
        if name not in taken:
            return name
        n += 1
