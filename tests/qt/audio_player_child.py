"""Load, play, seek and close takes in quick succession, many times (test_audio_player.py).

Usage: python audio_player_child.py ROUNDS. Prints the round number after each round and
"done" at the end; a deadlock shows as a process that stops printing.
"""

from __future__ import annotations

import io
import os
import struct
import sys
import wave

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def tone() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"".join(struct.pack("<h", (i % 40) * 500 - 10000) for i in range(16000)))
    return buffer.getvalue()


def main() -> None:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from studio.qt.audio_player import AudioPlayer

    app = QApplication([])

    def wait(ms: int) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    data = tone()
    for number in range(int(sys.argv[1])):
        player = AudioPlayer()
        player.load(data, 1.0)
        wait(10)
        player.play()
        wait(60)
        player.seek(0.5)
        player.load(data, 1.0)  # a new take while one plays
        player.play()
        wait(40)
        player.close()
        player.close()
        wait(5)
        print(number, flush=True)
    print("done", flush=True)
    app.quit()


if __name__ == "__main__":
    main()
