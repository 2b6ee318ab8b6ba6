"""Face landmarks of images with MediaPipe Face Mesh: ``python landmarks_probe.py IMAGE...``.

Runs in its own environment (``.venv-landmarks``, made by ``make venv``): the only
MediaPipe wheel that carries its face models inside (0.10.21, legacy ``solutions`` API,
no download at run time) needs protobuf < 5, which the project's onnx cannot share a
process with. Prints one JSON list: per image ``null`` (no face found) or the 478
landmarks as ``[x, y]`` pixels.
"""

import json
import sys

import cv2
import mediapipe as mp


def main(paths: list[str]) -> int:
    out = []
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True,
                                         min_detection_confidence=0.5) as mesh:
        for path in paths:
            image = cv2.imread(path)
            if image is None:
                print(f"landmarks_probe: cannot read {path}", file=sys.stderr)
                return 2
            h, w = image.shape[:2]
            found = mesh.process(cv2.cvtColor(image, cv2.COLOR_BGR2RGB)).multi_face_landmarks
            out.append(None if not found else [[p.x * w, p.y * h] for p in found[0].landmark])
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
