"""Lesson orchestration: the helpers that run a lesson's experiments, above the library.

These modules string the library together for one lesson each (train several models and tabulate
them, time a loader, look inside a network). They may import anything in ``course_lib``; nothing
in the library imports them (a test checks this), so the library stays usable without them.

- :mod:`~course_lib.lessons.throughput`: loader and training throughput (lesson 03);
- :mod:`~course_lib.lessons.inspection`: convolution by hand, layer tables, feature maps (04);
- :mod:`~course_lib.lessons.experiments`: small training runs and the transfer comparison (04, 05);
- :mod:`~course_lib.lessons.imbalance`: the class-imbalance methods compared (06).
"""
