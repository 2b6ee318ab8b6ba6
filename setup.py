"""ament_python / pip build for the paindiffusion ROS 2 package."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "paindiffusion"

NODES = ("elbow_driver", "stimulus_mapper", "pain_generator", "face_renderer", "operator_console")


def data_files() -> list[tuple[str, list[str]]]:
    """Files colcon installs into share/ so launch, config, urdf and models are found."""
    share = f"share/{PACKAGE}"
    return [
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (share, ["package.xml"]),
        (f"{share}/launch", glob("launch/*.py")),
        (f"{share}/config", glob("config/*.yaml") + glob("config/*.rviz") + glob("config/*.xml")),
        (f"{share}/config/patients", glob("config/patients/*.yaml")),
        (f"{share}/urdf", glob("urdf/*")),
        (f"{share}/models", glob("models/*.md")),
        (f"{share}/models/paindiffusion-default", glob("models/paindiffusion-default/*")),
    ]


setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=["paindiffusion_ros", "paindiffusion_ros.*"]),
    package_data={"paindiffusion_ros.console": ["static/*"]},
    data_files=data_files(),
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        "torch>=2.3",
        "safetensors>=0.4",
        "onnx>=1.16",
        "onnxruntime>=1.18",
        "dynamixel-sdk>=3.7",
        "pyserial>=3.5",
        "opencv-python-headless>=4.8",
        "numba>=0.59",
        "rosbags>=0.10",
        "mcap>=1.1",
        "matplotlib>=3.7",
        "tqdm>=4.60",
        "PyYAML>=6.0",
        "aiohttp>=3.9",
        "setuptools",
    ],
    extras_require={"test": ["pytest>=7", "selenium>=4.10"]},
    zip_safe=False,
    maintainer="paindiffusion developers",
    maintainer_email="paindiffusion@example.org",
    description="A ROS 2 node stack that gives a robotic patient simulator a face that reacts to pain.",
    license="MIT",
    entry_points={
        "console_scripts": [f"{node} = paindiffusion_ros.nodes.entry:{node}" for node in NODES]
        + ["paindiffusion = paindiffusion_ros.cli:main"],
    },
)
