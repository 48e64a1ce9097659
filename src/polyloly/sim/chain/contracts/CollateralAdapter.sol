// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IPUSD {
    function underlying() external view returns (address);
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
    function wrap(address to, uint256 amount) external;
    function unwrap(address to, uint256 amount) external;
}

interface ICTF {
    function splitPosition(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata partition, uint256 amount) external;
    function mergePositions(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata partition, uint256 amount) external;
    function redeemPositions(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata indexSets) external;
    function getCollectionId(bytes32 parent, bytes32 conditionId, uint256 indexSet) external view returns (bytes32);
    function getPositionId(address collateral, bytes32 collectionId) external pure returns (uint256);
    function balanceOf(address owner, uint256 id) external view returns (uint256);
    function safeTransferFrom(address from, address to, uint256 id, uint256 value, bytes calldata data) external;
}

/// The CLOB V2 collateral adapter as the protocol reference describes it: a thin contract with
/// the CTF's own split / merge / redeem signatures, taking pUSD as `collateral`, that unwraps
/// pUSD into the underlying the positions are collateralised with and wraps what comes back.
/// The caller approves pUSD to it (split) and the CTF's setApprovalForAll to it (merge, redeem):
/// it moves the caller's positions itself. Written here for the local chain.
contract CollateralAdapter {
    ICTF public immutable ctf;
    IPUSD public immutable pusd;
    address public immutable underlying;

    constructor(ICTF ctf_, IPUSD pusd_) {
        ctf = ctf_;
        pusd = pusd_;
        underlying = pusd_.underlying();
    }

    function splitPosition(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata partition, uint256 amount)
        external
    {
        require(collateral == address(pusd), "adapter: collateral must be pUSD");
        require(pusd.transferFrom(msg.sender, address(this), amount), "adapter: pUSD transfer");
        pusd.unwrap(address(this), amount);
        IPUSD(underlying).approve(address(ctf), amount);
        ctf.splitPosition(underlying, parent, conditionId, partition, amount);
        for (uint256 i = 0; i < partition.length; i++) {
            uint256 id = _position(conditionId, partition[i]);
            ctf.safeTransferFrom(address(this), msg.sender, id, amount, "");
        }
    }

    function mergePositions(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata partition, uint256 amount)
        external
    {
        require(collateral == address(pusd), "adapter: collateral must be pUSD");
        for (uint256 i = 0; i < partition.length; i++) {
            ctf.safeTransferFrom(msg.sender, address(this), _position(conditionId, partition[i]), amount, "");
        }
        ctf.mergePositions(underlying, parent, conditionId, partition, amount);
        IPUSD(underlying).approve(address(pusd), amount);
        pusd.wrap(msg.sender, amount);
    }

    function redeemPositions(address collateral, bytes32 parent, bytes32 conditionId, uint256[] calldata indexSets)
        external
    {
        require(collateral == address(pusd), "adapter: collateral must be pUSD");
        for (uint256 i = 0; i < indexSets.length; i++) {
            uint256 id = _position(conditionId, indexSets[i]);
            uint256 held = ctf.balanceOf(msg.sender, id);
            if (held > 0) ctf.safeTransferFrom(msg.sender, address(this), id, held, "");
        }
        uint256 before = _underlyingBalance();
        ctf.redeemPositions(underlying, parent, conditionId, indexSets);
        uint256 payout = _underlyingBalance() - before;
        if (payout > 0) {
            IPUSD(underlying).approve(address(pusd), payout);
            pusd.wrap(msg.sender, payout);
        }
    }

    function _underlyingBalance() private view returns (uint256 b) {
        (bool ok, bytes memory out) = underlying.staticcall(abi.encodeWithSignature("balanceOf(address)", address(this)));
        require(ok, "adapter: balance");
        b = abi.decode(out, (uint256));
    }

    function _position(bytes32 conditionId, uint256 indexSet) private view returns (uint256) {
        return ctf.getPositionId(underlying, ctf.getCollectionId(bytes32(0), conditionId, indexSet));
    }

    function onERC1155Received(address, address, uint256, uint256, bytes calldata) external pure returns (bytes4) {
        return 0xf23a6e61;
    }

    function onERC1155BatchReceived(address, address, uint256[] calldata, uint256[] calldata, bytes calldata)
        external pure returns (bytes4)
    {
        return 0xbc197c81;
    }
}
