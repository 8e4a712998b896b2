"""`Molecule` (W&B's `wandb.Molecule`): molecule files copied (`.pdb`, `.sdf`, `.mol2`, ...)."""

from __future__ import annotations

import io
import os
from typing import Any

from ._base import BatchableMedia, _describe, _StoredFile

_RDKIT = 'runhive.Molecule needs the rdkit package for this. To get it, run "pip install rdkit".'


def _rdkit() -> tuple[Any, Any]:
    try:
        import rdkit.Chem
        import rdkit.Chem.AllChem
    except ImportError as e:
        raise ImportError(_RDKIT) from e
    return rdkit.Chem, rdkit.Chem.AllChem


class Molecule(BatchableMedia):
    """A molecule (W&B's `wandb.Molecule`): the path of a file in one of `SUPPORTED_TYPES`, or an io object with
    `file_type=`, copied as it is. `from_rdkit` and `from_smiles` need rdkit."""

    SUPPORTED_TYPES = frozenset({"pdb", "pqr", "mmcif", "mcif", "cif", "sdf", "sd", "gro", "mol2", "mmtf"})
    SUPPORTED_RDKIT_TYPES = frozenset({"mol", "sdf"})
    _log_type = "molecule-file"
    _file: _StoredFile

    def __init__(self, data_or_path: Any, caption: str | None = None, **kwargs: Any) -> None:
        self._caption = caption
        file_type = kwargs.pop("file_type", None)
        if kwargs:
            raise TypeError(f"runhive.Molecule got unexpected keyword arguments {sorted(kwargs)}.")
        if isinstance(getattr(data_or_path, "name", None), str) and os.path.isfile(data_or_path.name):
            data_or_path = data_or_path.name  # an open file: W&B takes its path
        supported = ", ".join(sorted(self.SUPPORTED_TYPES))
        if hasattr(data_or_path, "read"):
            if file_type is None:
                raise ValueError("Must pass file_type keyword argument when using io objects.")
            if file_type not in self.SUPPORTED_TYPES:
                raise ValueError(f"Molecule 3D only supports files of the type: {supported}")
            if hasattr(data_or_path, "seek"):
                data_or_path.seek(0)
            content = data_or_path.read()
            data = content if isinstance(content, bytes) else str(content).encode("utf-8")
            self._file = _StoredFile.from_bytes(data, "molecule", file_type)
        elif isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            ext = os.path.splitext(path)[1][1:]
            if ext not in self.SUPPORTED_TYPES:
                raise ValueError(f"Molecule only supports files of the type: {supported}; got {path!r}.")
            if not os.path.isfile(path):
                raise ValueError(f"runhive.Molecule: data_or_path={path!r} does not exist.")
            self._file = _StoredFile.from_path(path, "molecule", ext)
        else:
            raise ValueError(f"Data must be file name or a file object; got {_describe(data_or_path)}.")

    @classmethod
    def from_rdkit(
        cls,
        data_or_path: Any,
        caption: str | None = None,
        convert_to_3d_and_optimize: bool = True,
        mmff_optimize_molecule_max_iterations: int = 200,
    ) -> Molecule:
        """A molecule from an rdkit `Mol` or a `.mol`/`.sdf` file, stored as PDB (needs rdkit)."""
        chem, all_chem = _rdkit()
        if isinstance(data_or_path, (str, os.PathLike)):
            path = os.fspath(data_or_path)
            ext = os.path.splitext(path)[1][1:]
            if ext not in cls.SUPPORTED_RDKIT_TYPES:
                kinds = ", ".join(sorted(cls.SUPPORTED_RDKIT_TYPES))
                raise ValueError(f"Molecule.from_rdkit only supports files of the type: {kinds}")
            if ext == "sdf":
                with chem.SDMolSupplier(path) as supplier:
                    molecule = next(supplier)
            else:
                molecule = chem.MolFromMolFile(path)
        elif isinstance(data_or_path, chem.rdchem.Mol):
            molecule = data_or_path
        else:
            raise TypeError("Data must be file name or an rdkit.Chem.rdchem.Mol object")
        if convert_to_3d_and_optimize:
            molecule = chem.AddHs(molecule)
            all_chem.EmbedMolecule(molecule)
            all_chem.MMFFOptimizeMolecule(molecule, maxIters=mmff_optimize_molecule_max_iterations)
        pdb_block = chem.rdmolfiles.MolToPDBBlock(molecule)
        return cls(io.StringIO(pdb_block), caption=caption, file_type="pdb")

    @classmethod
    def from_smiles(
        cls,
        data: str,
        caption: str | None = None,
        sanitize: bool = True,
        convert_to_3d_and_optimize: bool = True,
        mmff_optimize_molecule_max_iterations: int = 200,
    ) -> Molecule:
        """A molecule from a SMILES string (needs rdkit)."""
        chem, _ = _rdkit()
        molecule = chem.MolFromSmiles(data, sanitize=sanitize)
        if molecule is None:
            raise ValueError("Unable to parse the SMILES string.")
        return cls.from_rdkit(
            molecule,
            caption=caption,
            convert_to_3d_and_optimize=convert_to_3d_and_optimize,
            mmff_optimize_molecule_max_iterations=mmff_optimize_molecule_max_iterations,
        )

    @property
    def path(self) -> str:
        return self._file.path

    def to_json(self, run_or_artifact: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._caption is not None:
            out["caption"] = self._caption
        out.update({"_type": self._log_type, **self._file.json()})
        return out

    def __repr__(self) -> str:
        return f"<runhive Molecule {self._file.path}>"
