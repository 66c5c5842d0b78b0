"""Installs mmokd, an OpenMMLab plugin for online knowledge distillation."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name: str) -> list:
    """Reads one requirements file, skipping comments and blank lines."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def read_version() -> str:
    """Reads ``__version__`` from ``mmokd/version.py`` without importing."""
    scope: dict = {}
    with open(osp.join(HERE, 'mmokd', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmokd',
    version=read_version(),
    description='Online knowledge distillation for OpenMMLab',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
    include_package_data=True,
    python_requires='>=3.8',
    license='Apache License 2.0',
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'all': (read_requirements('runtime.txt') +
                read_requirements('optional.txt') +
                read_requirements('tests.txt')),
        'tests': read_requirements('tests.txt'),
        'optional': read_requirements('optional.txt'),
        'mim': read_requirements('mminstall.txt'),
    },
    zip_safe=False)
